"""Request dispatch shared by every core (broker, controller): frames in, ordered responses out.

Kafka's ``KafkaApis.handle``/``ControllerApis.handle`` over ``RequestChannel``: parse the request
header, answer an unsupported version as Kafka does (KIP-511: an ApiVersions request gets a v0
UNSUPPORTED_VERSION answer that still lists the supported ranges; any other API closes the
connection), decode the body, call the API's handler, and keep each connection's responses in
request order (``ResponseQueue``).

A ``Throttle`` (``refka.quotas.throttler``) may see each request and answer: it can put a
throttle time into the answer and mute the connection for it (KIP-219). A muted connection's
requests are held, in order, until ``release`` at the end of the time (Kafka mutes the socket;
the requests wait unread).

A handler is ``handle(ctx, request)`` (the registry binds it to its services) and returns a kio
response entity, ``Encoded`` chunks, ``PENDING`` (answered later through :meth:`reply`),
``NO_RESPONSE`` or ``CLOSE_CONNECTION`` (``refka.core.context``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from refka.core.connections import ResponseQueue
from refka.core.context import CLOSE_CONNECTION, NO_RESPONSE, PENDING, Encoded, RequestContext
from refka.core.effects import Close, Effect
from refka.protocol import bounds, codec, framing, nulls

if TYPE_CHECKING:
    from refka.security.authorizer import StandardAuthorizer

log = logging.getLogger(__name__)

API_VERSIONS_KEY = 18

Handler = Callable[[RequestContext, Any], Any]


@dataclass(frozen=True, slots=True)
class Api:
    """One API a core speaks: its key, name, version range and bound handler."""

    key: int
    name: str
    min_version: int
    max_version: int
    handle: Handler
    advertised_min_version: int | None = None
    listed: bool = True  # in ApiVersions; Kafka answers the telemetry APIs unlisted (KIP-714)

    def supports(self, version: int) -> bool:
        return self.min_version <= version <= self.max_version

    def request_class(self, version: int) -> type:
        return codec.request_class(self.key, version)

    @property
    def advertised(self) -> tuple[int, int]:
        low = (
            self.min_version if self.advertised_min_version is None else self.advertised_min_version
        )
        return low, self.max_version


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request a gate refuses: the connection closes, after an error answer of the request's
    API carrying ``error_code`` when one is given (Kafka's ``getErrorResponse``)."""

    reason: str
    error_code: int | None = None


class Gate(Protocol):
    """Authentication in front of the handlers (``refka.security.authenticator``)."""

    def on_connect(self, connection_id: int, listener: str) -> None: ...
    def on_disconnect(self, connection_id: int) -> None: ...
    def admit(self, connection_id: int, api_key: int, now_ms: int) -> Refusal | None: ...
    def expects_raw(self, connection_id: int) -> bool: ...
    def raw_token(self, connection_id: int, token: bytes, now_ms: int) -> bytes | None: ...
    def closing(self, connection_id: int) -> str | None: ...


class Throttle(Protocol):
    """Client quotas between the dispatcher and the handlers (``RequestThrottler``)."""

    def now(self) -> int: ...
    def on_request(self, ctx: RequestContext, request: Any, size: int) -> Any: ...
    def on_response(self, ctx: RequestContext, response: Any) -> tuple[Any, int]: ...
    def on_disconnect(self, connection_id: int) -> None: ...


class Dispatcher:
    """Routes request frames to the handlers of ``apis`` and queues their answers in order.

    ``unsupported_api_versions()`` builds the v0 ApiVersions answer of KIP-511;
    ``on_connection_closed(connection_id)`` lets the owner forget a connection the dispatcher
    closes itself (its waiting requests, for instance). A ``gate`` (SASL) may refuse a request
    before authentication (the connection closes) or close the connection after an answer.
    """

    def __init__(
        self,
        apis: Mapping[int, Api],
        unsupported_api_versions: Callable[[], Any],
        on_connection_closed: Callable[[int], None] = lambda connection_id: None,
        gate: Gate | None = None,
    ) -> None:
        self.gate = gate
        self.apis = apis
        self.queues: dict[int, ResponseQueue] = {}
        self._unsupported_api_versions = unsupported_api_versions
        self._on_connection_closed = on_connection_closed
        self.authorizer: StandardAuthorizer | None = None  # ``authorizer.class.name``'s
        self.throttle: Throttle | None = None
        self._muted_until: dict[int, int] = {}
        self._held: dict[int, deque[bytes]] = {}

    def on_connect(self, connection_id: int, listener: str = "", client_host: str = "") -> None:
        self.queues[connection_id] = ResponseQueue(connection_id, listener, client_host)
        if self.gate is not None:
            self.gate.on_connect(connection_id, listener)

    def authenticate(
        self, connection_id: int, principal: str, token_authenticated: bool = False
    ) -> None:
        """From now on, requests on ``connection_id`` are made by ``principal`` (with a
        delegation token when ``token_authenticated``)."""
        queue = self.queues[connection_id]
        queue.principal, queue.token_authenticated = principal, token_authenticated

    def on_disconnect(self, connection_id: int) -> None:
        self.queues.pop(connection_id, None)
        if self.gate is not None:
            self.gate.on_disconnect(connection_id)
        self._forget(connection_id)

    def _forget(self, connection_id: int) -> None:
        self._muted_until.pop(connection_id, None)
        self._held.pop(connection_id, None)
        if self.throttle is not None:
            self.throttle.on_disconnect(connection_id)

    # ------------------------------------------------------------ muting (KIP-219)

    def mute(self, connection_id: int, until_ms: int) -> None:
        """Hold ``connection_id``'s next requests until ``until_ms``."""
        self._muted_until[connection_id] = max(until_ms, self._muted_until.get(connection_id, 0))

    def next_deadline_ms(self) -> int | None:
        return min(self._muted_until.values(), default=None)

    def release(self, now_ms: int) -> list[Effect]:
        """Unmute the connections whose time is over and handle the requests they held."""
        effects: list[Effect] = []
        for connection_id in [c for c, t in self._muted_until.items() if t <= now_ms]:
            del self._muted_until[connection_id]
            held = self._held.pop(connection_id, deque())
            while held and connection_id not in self._muted_until:
                effects += self.on_request(connection_id, held.popleft(), now_ms)
            if held:  # muted again by one of them: the rest wait on
                self._held.setdefault(connection_id, deque()).extendleft(reversed(held))
        return effects

    def in_flight(self, connection_id: int) -> int:
        """Requests read on ``connection_id`` whose answers have not left yet."""
        queue = self.queues.get(connection_id)
        return len(queue.slots) if queue is not None else 0

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        """Handle one frame; the effects are a ``Close`` or nothing (answers wait in the
        queues until :meth:`drain`)."""
        if connection_id in self._muted_until:
            self._held.setdefault(connection_id, deque()).append(bytes(frame))
            return []
        queue = self.queues.get(connection_id)
        if queue is None:
            queue = self.queues[connection_id] = ResponseQueue(connection_id)
        if self.gate is not None and self.gate.expects_raw(connection_id):
            return self._raw_token(queue, bytes(frame), now_ms)
        try:
            header, body_offset = framing.parse_request_header(frame)
        except Exception as error:
            return [Close(connection_id, f"malformed request header: {error}")]
        api = self.apis.get(header.api_key)
        if api is None:
            return [Close(connection_id, f"unknown API key {header.api_key}")]
        if self.gate is not None:
            refused = self.gate.admit(connection_id, header.api_key, now_ms)
            if refused is not None:
                return self._refuse(queue, api, header.api_version, header.correlation_id, refused)
        if not api.supports(header.api_version):
            if header.api_key != API_VERSIONS_KEY:
                message = f"unsupported version {header.api_version} of {api.name}"
                return [Close(connection_id, message)]
            self._answer_unsupported_api_versions(queue, header.correlation_id)
            return []
        try:
            request: Any
            cls = api.request_class(header.api_version)
            bounds.check(cls, frame, body_offset)  # before kio allocates for a lying count
            request, _ = codec.decode(cls, frame, body_offset)
            nulls.check(request)
        except Exception as error:
            return [Close(connection_id, f"cannot parse {api.name} v{header.api_version}: {error}")]
        ctx = RequestContext(
            connection_id=connection_id,
            correlation_id=header.correlation_id,
            api_key=header.api_key,
            api_version=header.api_version,
            client_id=header.client_id,
            now_ms=now_ms,
            sequence=queue.open_slot(),
            listener=queue.listener,
            principal=queue.principal,
            client_host=queue.client_host,
            token_authenticated=queue.token_authenticated,
            authorizer=self.authorizer,
        )
        if self.throttle is not None:
            request = self.throttle.on_request(ctx, request, len(frame) - body_offset)
        return self._handle(api, ctx, request)

    def _handle(self, api: Api, ctx: RequestContext, request: Any) -> list[Effect]:
        connection_id = ctx.connection_id
        try:
            result = api.handle(ctx, request)
        except OSError:
            raise  # the log directory failed, not the request: the core halts
        except Exception:
            log.exception("%s v%d failed", api.name, ctx.api_version)
            self._close(connection_id)
            return [Close(connection_id, f"internal error in {api.name}")]
        if result is CLOSE_CONNECTION:
            self._close(connection_id)
            return [Close(connection_id, f"{api.name} failed with acks=0")]
        if result is not PENDING:
            self.reply(ctx, result)
        closing = None if self.gate is None else self.gate.closing(connection_id)
        if closing is not None:
            return [Close(connection_id, closing)]  # after the answer, which drain sends first
        return []

    def reply(self, ctx: RequestContext, response: Any) -> None:
        """Give ``ctx`` its answer (also for a request that was left ``PENDING``)."""
        queue = self.queues.get(ctx.connection_id)
        if queue is None:
            return  # the connection went away while the request waited
        if self.throttle is not None:
            response, throttle_ms = self.throttle.on_response(ctx, response)
            if throttle_ms > 0:
                self.mute(ctx.connection_id, self.throttle.now() + throttle_ms)
        if response is NO_RESPONSE:
            queue.fill(ctx.sequence, None)
            return
        body: tuple[Any, ...] = (
            response.chunks if isinstance(response, Encoded) else (codec.encode(response),)
        )
        flexible_header = ctx.api_key != API_VERSIONS_KEY and codec.is_flexible(
            ctx.api_key, ctx.api_version
        )
        head = codec.response_header(ctx.correlation_id, flexible_header, _size(body))
        queue.fill(ctx.sequence, (head, *body))

    def drain(self) -> list[Effect]:
        """``Send``s for every answer at the head of its connection's queue."""
        effects: list[Effect] = []
        for queue in self.queues.values():
            if queue.slots and queue.slots[0].ready:
                effects.extend(queue.drain())
        return effects

    def _refuse(
        self, queue: ResponseQueue, api: Api, version: int, correlation_id: int, refused: Refusal
    ) -> list[Effect]:
        connection_id = queue.connection_id
        if refused.error_code is None or not api.supports(version):
            self._close(connection_id)
            return [Close(connection_id, refused.reason)]
        from refka.protocol.error_response import error_response

        body = codec.encode(error_response(api.key, version, refused.error_code))
        flexible = api.key != API_VERSIONS_KEY and codec.is_flexible(api.key, version)
        head = codec.response_header(correlation_id, flexible, len(body))
        queue.fill(queue.open_slot(), (head, body))
        return [Close(connection_id, refused.reason)]  # after the answer, which drain sends

    def _raw_token(self, queue: ResponseQueue, token: bytes, now_ms: int) -> list[Effect]:
        """A raw SASL token after SaslHandshake v0, answered with a raw token (KIP-43)."""
        assert self.gate is not None
        connection_id = queue.connection_id
        answer = self.gate.raw_token(connection_id, token, now_ms)
        if answer is None:
            self._close(connection_id)
            return [Close(connection_id, "SASL authentication failed")]
        queue.fill(queue.open_slot(), (len(answer).to_bytes(4, "big") + answer,))
        return []

    def _close(self, connection_id: int) -> None:
        self.queues.pop(connection_id, None)
        if self.gate is not None:
            self.gate.on_disconnect(connection_id)
        self._forget(connection_id)
        self._on_connection_closed(connection_id)

    def _answer_unsupported_api_versions(self, queue: ResponseQueue, correlation_id: int) -> None:
        """KIP-511: an ApiVersions request at a version we lack gets a v0 UNSUPPORTED_VERSION
        answer that still lists our ranges, so the client can retry at a version we speak."""
        body = codec.encode(self._unsupported_api_versions())
        sequence = queue.open_slot()
        queue.fill(sequence, (codec.response_header(correlation_id, False, len(body)), body))


def _size(chunks: tuple[Any, ...]) -> int:
    return sum(c.size if not isinstance(c, bytes | bytearray) else len(c) for c in chunks)
