"""Client quota entities and keys (KIP-546), as Kafka 4.4's ``ClientQuotaControlManager``
validates them and ``ClientQuotasImage.describe`` filters them.

An entity is a set of components, each an entity type (``user``, ``client-id``, ``ip``) and a
name (``None``: the default entity of that type); it is kept as a sorted tuple of pairs, the
metadata image's key. ``ip`` does not combine with the others. Keys and their types are
``QuotaConfig``'s: ``producer_byte_rate`` and ``consumer_byte_rate`` (LONG),
``request_percentage`` and ``controller_mutation_rate`` (DOUBLE) for users and client ids,
``connection_creation_rate`` (INT) for ips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kio.schema.errors import ErrorCode

USER, CLIENT_ID, IP = "user", "client-id", "ip"
ENTITY_TYPES = (USER, CLIENT_ID, IP)

PRODUCER_BYTE_RATE = "producer_byte_rate"
CONSUMER_BYTE_RATE = "consumer_byte_rate"
REQUEST_PERCENTAGE = "request_percentage"
CONTROLLER_MUTATION_RATE = "controller_mutation_rate"
CONNECTION_CREATION_RATE = "connection_creation_rate"

USER_AND_CLIENT_KEYS = {
    PRODUCER_BYTE_RATE: "LONG",
    CONSUMER_BYTE_RATE: "LONG",
    REQUEST_PERCENTAGE: "DOUBLE",
    CONTROLLER_MUTATION_RATE: "DOUBLE",
}
IP_KEYS = {CONNECTION_CREATION_RATE: "INT"}
_LIMITS = {"SHORT": 2**15 - 1, "INT": 2**31 - 1, "LONG": 2**63 - 1}

Entity = tuple[tuple[str, str | None], ...]
Error = tuple[ErrorCode, str]


class QuotaError(ValueError):
    """A request Kafka refuses: its error code and message."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def entity_of(components: Iterable[tuple[str, str | None]]) -> Entity:
    """The entity of a request's components: a map, so a type given twice keeps its last name
    (as Kafka's ``ClientQuotaEntity``)."""
    return tuple(sorted(dict(components).items()))


def java_hash(text: str) -> int:
    """Java's ``String.hashCode`` (32-bit)."""
    h = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h


def hash_map_order(keys: Iterable[str], capacity: int = 16) -> list[str]:
    """The iteration order of a small Java ``HashMap`` of ``keys`` (bucket order, then
    insertion): the order Kafka lists an entity's components and an entity's quota keys."""

    def bucket(key: str) -> int:
        h = java_hash(key)
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(keys, key=bucket)  # stable: insertion order within a bucket


def ordered(entity: Entity) -> list[tuple[str, str | None]]:
    """The entity's components as Kafka lists them (a ``HashMap`` sized for them: 4 buckets)."""
    names = dict(entity)
    return [(kind, names[kind]) for kind in hash_map_order(names, capacity=4)]


def describe_entity(entity: Entity) -> str:
    """Kafka's ``ClientQuotaEntity.toString``: ``ClientQuotaEntity(entries={user=alice})``."""
    inner = ", ".join(f"{t}={n}" for t, n in ordered(entity))
    return f"ClientQuotaEntity(entries={{{inner}}})"


def validate_entity(entity: Entity) -> Error | None:
    """Kafka's ``validateEntity``: the error for an entity, or None."""
    if not entity:
        return ErrorCode.invalid_request, "Invalid empty client quota entity"
    seen: set[str] = set()
    for kind, name in ordered(entity):
        if kind == IP:
            if name is not None and not _is_ip(name):
                # Kafka resolves a host name here; refka, sans-I/O, takes IP literals only
                message = f"{name} is not a valid IP or resolvable host."
                return ErrorCode.invalid_request, message
        elif kind not in (USER, CLIENT_ID):
            return ErrorCode.invalid_request, f"Unhandled client quota entity type: {kind}"
        if name is not None and not name:
            return ErrorCode.invalid_request, f"Empty {kind} not supported"
        seen.add(kind)
    if IP in seen and (USER in seen or CLIENT_ID in seen):
        return (
            ErrorCode.invalid_request,
            "Invalid quota entity combination, IP entity shouldnot be combined with User or "
            "ClientId",
        )
    return None


def _is_ip(name: str) -> bool:
    import ipaddress  # an ip entity's first check: off the broker's start path

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def keys_for(entity: Entity) -> Mapping[str, str]:
    return IP_KEYS if any(kind == IP for kind, _ in entity) else USER_AND_CLIENT_KEYS


def validate_value(keys: Mapping[str, str], key: str, value: float) -> Error | None:
    """Kafka's ``validateQuotaKeyValue``."""
    kind = keys.get(key)
    if kind is None:
        return ErrorCode.invalid_request, f"Invalid configuration key {key}"
    if value <= 0.0:
        return ErrorCode.invalid_request, f"Quota {key} must be greater than 0"
    if kind == "DOUBLE":
        return None
    if value > _LIMITS[kind]:
        article = "an" if kind == "INT" else "a"
        message = f"Proposed value for {key} is too large for {article} {kind}."
        return ErrorCode.invalid_request, message
    if value - int(value) > 1e-6:
        return ErrorCode.invalid_request, f"{key} cannot be a fractional value."
    return None


# ------------------------------------------------------------------- describe filters

MATCH_EXACT, MATCH_DEFAULT, MATCH_SPECIFIED = 0, 1, 2
_ABSENT = object()


def describe(
    quotas: Mapping[Entity, Mapping[str, float]],
    components: Iterable[tuple[str, int, str | None]],
    strict: bool,
) -> list[tuple[Entity, Mapping[str, float]]]:
    """Kafka's ``ClientQuotasImage.describe``: the entities a filter of (entity type, match
    type, match) components selects; raises ``QuotaError`` as Kafka answers a bad filter."""
    exact: dict[str, str | None] = {}
    typed: set[str] = set()
    for kind, match_type, match in components:
        if not kind:
            raise QuotaError(ErrorCode.invalid_request, "Invalid empty entity type.")
        if kind in exact or kind in typed:
            raise QuotaError(
                ErrorCode.invalid_request,
                f"Entity type {kind} cannot appear more than once in the filter.",
            )
        if kind not in ENTITY_TYPES:
            raise QuotaError(ErrorCode.unsupported_version, f"Unsupported entity type {kind}")
        if match_type == MATCH_EXACT:
            if match is None:
                raise QuotaError(
                    ErrorCode.invalid_request,
                    "Request specified MATCH_TYPE_EXACT, but set match string to null.",
                )
            exact[kind] = match
        elif match_type == MATCH_DEFAULT:
            if match is not None:
                raise QuotaError(
                    ErrorCode.invalid_request,
                    "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.",
                )
            exact[kind] = None
        elif match_type == MATCH_SPECIFIED:
            if match is not None:
                raise QuotaError(
                    ErrorCode.invalid_request,
                    "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.",
                )
            typed.add(kind)
        else:
            raise QuotaError(ErrorCode.invalid_request, f"Unknown match type {match_type}")
    named = set(exact) | typed
    if IP in named and (USER in named or CLIENT_ID in named):
        raise QuotaError(
            ErrorCode.invalid_request,
            "Invalid entity filter component combination. IP filter component should not be "
            "used with user or clientId filter component.",
        )
    found = []
    for entity, values in quotas.items():
        parts = dict(entity)
        if strict and len(parts) != len(exact) + len(typed):
            continue
        if any(parts.get(kind, _ABSENT) != name for kind, name in exact.items()):
            continue
        if any(kind not in parts for kind in typed):
            continue
        found.append((entity, values))
    return found
