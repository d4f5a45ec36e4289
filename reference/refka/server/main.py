"""``refka broker``: load the configuration, bind the listeners, run until SIGINT/SIGTERM.

Start-up prints one line to stdout once the listeners accept connections::

    refka broker ready on 127.0.0.1:9092 (node 1, log.dirs ./data) in 57 ms

A broker with several listeners names the first there and the others at the end of the
parenthesis (``..., listeners REPLICATION://127.0.0.1:9094``).

The milliseconds count from the start of the process (Linux: ``/proc/self/stat``, 10 ms
resolution; elsewhere from the import of this module), so they include the interpreter's own
start-up, the imports, log recovery and the bind. With port 0 the line shows the port the kernel
chose, and the core advertises that port to clients.
"""

from __future__ import annotations

import time

_IMPORTED_S = time.perf_counter()

import os  # noqa: E402 - after the start-up timestamp
import sys  # noqa: E402
from typing import TYPE_CHECKING, NamedTuple  # noqa: E402

if TYPE_CHECKING:
    import argparse
    import asyncio
    import ssl
    from collections.abc import Callable

    from refka.config import BrokerConfig
    from refka.core.broker import Broker
    from refka.server.driver import CoreRunner, Listener
    from refka.server.tls import ListenerSecurity

LOG_FORMAT = "[%(asctime)s] %(levelname)s %(message)s (%(name)s)"  # as Kafka's log4j layout
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="a Kafka server.properties file (default: built-in)"
    )
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="set one config key (Kafka's names, e.g. log.dirs=/tmp/refka); repeatable, "
        "wins over --config",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=LOG_LEVELS,
        type=str.upper,
        help="log level of the messages on stderr (default INFO)",
    )


class BrokerArgs(NamedTuple):
    """The command line as ``add_arguments``' parser reads it (``quick_args``' result)."""

    config: str | None
    set: list[str]
    log_level: str


def quick_args(argv: list[str]) -> BrokerArgs | None:
    """``--config FILE``, ``--set KEY=VALUE`` and ``--log-level LEVEL`` (also ``--flag=value``)
    read without argparse; None for anything else (``--help``, an unknown or abbreviated flag, a
    missing value), which ``add_arguments``' parser then answers as usual."""
    found: dict[str, str] = {}
    sets: list[str] = []
    rest = list(argv)
    while rest:
        flag, equals, value = rest.pop(0).partition("=")
        if not equals:
            if not rest or rest[0].startswith("-"):
                return None
            value = rest.pop(0)
        if flag == "--set":
            sets.append(value)
        elif flag in ("--config", "--log-level"):
            found[flag] = value
        else:
            return None
    level = found.get("--log-level", "INFO").upper()
    return BrokerArgs(found.get("--config"), sets, level) if level in LOG_LEVELS else None


def run(args: argparse.Namespace | BrokerArgs) -> int:
    """Run the broker until SIGINT or SIGTERM; 0 after a clean shutdown, 2 on a bad config.

    The garbage collector stays off until the broker is ready (``serve`` turns it back on then,
    or after ``COLLECTOR_OFF_MAX_S`` if its controller keeps it waiting): the start allocates
    mostly what lives on (modules, classes, the cores), and collecting during it cost ~5-8 ms
    of start-up (issue 15)."""
    import gc

    gc.disable()
    try:
        return _run(args)
    finally:
        gc.enable()


def _run(args: argparse.Namespace | BrokerArgs) -> int:
    import logging

    logging.basicConfig(level=args.log_level, format=LOG_FORMAT, stream=sys.stderr)
    from refka.config import ConfigError, load_config

    try:
        config, warnings = load_config(args.config, list(args.set))
    except ConfigError as error:
        print(f"refka broker: {error}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"refka broker: warning: {warning}", file=sys.stderr)
    import asyncio

    try:
        return asyncio.run(serve(config))
    except KeyboardInterrupt:  # SIGINT before the handlers were installed
        return 0


async def serve(
    config: BrokerConfig,
    stopped: asyncio.Future[int] | None = None,
    announce: Callable[[str, int], None] | None = None,
) -> int:
    """Bind the listeners of the node's roles, build its cores, serve until a signal, then shut
    down: a broker first moves its leaderships away (controlled shutdown, KIP-631).

    In-process use (``refka.testing.in_process``) passes ``stopped``, a future it resolves with
    a signal number instead of the process's SIGINT/SIGTERM handlers (``SIGKILL`` skips the
    controlled shutdown), and ``announce``, called with the ready line and the bound port
    instead of printing the line.
    """
    import asyncio
    import logging
    import signal
    import socket

    from refka.config import (
        broker_listeners,
        controller_listener,
        controller_listener_name,
        roles,
    )
    from refka.core.network_client import NodeAddress
    from refka.log.multi_dir import log_storage
    from refka.log.storage import FileStorage
    from refka.node import make_broker, make_controller
    from refka.server.driver import NodeServer, now_ms
    from refka.server.files import SegmentFiles
    from refka.server.outbound_sasl import outbound_sasl

    log = logging.getLogger("refka.server")
    try:
        node_roles = roles(config)
        storage = log_storage(config.log_dir_paths)
        metadata_storage = FileStorage(config.metadata_log_dir) if config.metadata_log_dir else None
        trace = None
        if config.refka_trace_file:
            from refka.server.trace_file import TraceFile  # only a traced node loads the events

            trace = TraceFile(config.refka_trace_file, config.node_id)
    except (OSError, ValueError) as error:
        print(f"refka broker: {error}", file=sys.stderr)
        return 1
    server = NodeServer(
        SegmentFiles(storage.real_path),
        config.socket_request_max_bytes,
        config.socket_send_buffer_bytes,
        config.socket_receive_buffer_bytes,
        config.connections_max_idle_ms,
    )
    try:
        _set_limits(server, config)
        tls = _TlsSetup(config)
    except ValueError as error:
        print(f"refka broker: {error}", file=sys.stderr)
        return 2
    seed = int.from_bytes(os.urandom(8), "big")
    log.debug("seed %d", seed)
    host_name = socket.gethostname()
    controller = broker = None
    b_listeners: list[Listener] = []
    bind = details = ""
    try:
        if "controller" in node_roles:
            c_host, c_port = controller_listener(config) or ("127.0.0.1", 0)
            bind = f"{c_host}:{c_port}"
            c_name = controller_listener_name(config)
            c_listener = await server.add_listener(
                c_host, c_port, name=c_name, security=tls.listener(c_name)
            )
            c_listener.runner.client_tls.update(tls.clients(controller=True))
            controller = make_controller(
                config, storage, now_ms(), seed, metadata_storage, tracer=trace
            )
            c_listener.core = controller
            ready_line = f"refka controller ready on {c_listener.host}:{c_listener.port}"
            ready_port = c_listener.port
        if "broker" in node_roles:
            for name, host, port in broker_listeners(config):  # one core serves them all
                bind = f"{host}:{port}"
                runner = b_listeners[0].runner if b_listeners else None
                b_listeners.append(
                    await server.add_listener(
                        host, port, name=name, runner=runner, security=tls.listener(name)
                    )
                )
            b_listener = b_listeners[0]
            b_listener.runner.client_tls.update(tls.clients(controller=False))
            config = _advertise_bound_ports(config, host_name, b_listeners)
            own = None
            if controller is not None:  # combined: the broker's controller is its own
                address = "127.0.0.1" if c_listener.host in ("0.0.0.0", "::") else c_listener.host
                own = NodeAddress(config.node_id, address, c_listener.port)
            broker = make_broker(config, storage, now_ms(), seed + 1, host_name, own, tracer=trace)
            b_listener.core = broker
            b_listener.runner.outbound_sasl = outbound_sasl(config)
            ready_line = f"refka broker ready on {b_listener.host}:{b_listener.port}"
            ready_port = b_listener.port
            others = ",".join(f"{b.name}://{b.host}:{b.port}" for b in b_listeners[1:])
            details = f", listeners {others}" if others else ""
    except OSError as error:
        print(f"refka broker: cannot listen on {bind}: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"refka broker: {error}", file=sys.stderr)
        return 1
    loop = asyncio.get_running_loop()
    if stopped is None:
        stopped = loop.create_future()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, _stop, stopped, signum)
    await server.start_serving([s for s in server.listeners if s not in b_listeners])
    for runner in server.runners:  # the first tick: registration, the first metadata fetch
        assert runner.core is not None
        runner.perform(runner.core.on_tick(now_ms()))
    loop.call_later(COLLECTOR_OFF_MAX_S, _collect_from_now)  # a broker its controller keeps waiting
    if broker is not None:  # each event's effects are followed by a look at its state
        await _until_ready(broker, b_listeners[0].runner, stopped)
    if not stopped.done():
        # Clients' connections once the broker is unfenced, as Kafka's BrokerServer enables
        # request processing (the controller's listener served from the start: the broker
        # registers through it)
        await server.start_serving(b_listeners)
        if announce is not None:
            announce(
                f"{ready_line} (node {config.node_id}, log.dirs {config.log_dirs}{details})",
                ready_port,
            )
        else:
            from refka import dataclass_cache

            dataclass_cache.save()  # the next start finds the start's dataclass methods compiled
            print(
                f"{ready_line} (node {config.node_id}, log.dirs {config.log_dirs}{details}) "
                f"in {_startup_ms()} ms",
                flush=True,
            )
    _collect_from_now()
    received = await stopped
    log.info("shutting down on %s", signal.Signals(received).name)
    if broker is not None and received != signal.SIGKILL:
        await _controlled_shutdown(server, broker, config)
    await server.close()
    if trace is not None:
        trace.close()
    log.info("shut down cleanly")
    return 0


SHUTDOWN_POLL_S = 0.002  # the controlled shutdown looks at the broker this often
COLLECTOR_OFF_MAX_S = 1.0


async def _until_ready(broker: Broker, runner: CoreRunner, stopped: asyncio.Future[int]) -> None:
    """Until the broker is RUNNING and lists itself (or the node is stopped), looked at after
    each of its events: its listeners serve from that moment, and a client's first Metadata
    answer names it."""
    import asyncio

    ready = asyncio.get_running_loop().create_future()

    def look() -> None:
        if broker.ready and broker.listed and not ready.done():
            ready.set_result(None)

    runner.after_effects = look
    look()
    try:
        await asyncio.wait([stopped, ready], return_when=asyncio.FIRST_COMPLETED)
    finally:
        runner.after_effects = None


def _collect_from_now() -> None:
    """Once ready, the collector of a process ``run`` started goes back on, and the objects of
    the start (modules, classes, cores: all long-lived) are frozen out of its scans."""
    import gc

    if not gc.isenabled():
        gc.freeze()
        gc.enable()


async def _controlled_shutdown(server: object, broker: object, config: BrokerConfig) -> None:
    """Ask the controller to move this broker's leaderships away, and wait (bounded) until it
    says the broker may stop (KIP-631's controlled shutdown)."""
    import asyncio

    from refka.server.driver import now_ms

    runner = next(r for r in server.runners if r.core is broker)  # type: ignore[attr-defined]
    runner.perform(broker.begin_controlled_shutdown(now_ms()))  # type: ignore[attr-defined]
    deadline = asyncio.get_running_loop().time() + SHUTDOWN_WAIT_S
    while not broker.shutdown_complete and asyncio.get_running_loop().time() < deadline:  # type: ignore[attr-defined]
        await asyncio.sleep(SHUTDOWN_POLL_S)


SHUTDOWN_WAIT_S = 5.0


def _advertise_bound_ports(
    config: BrokerConfig, host_name: str, listeners: list[Listener]
) -> BrokerConfig:
    """With port 0 the kernel picks the port: an advertised endpoint of port 0 advertises the
    port its listener of the same name bound."""
    from refka.config import advertised_listeners

    endpoints = advertised_listeners(config, host_name)
    if all(port != 0 for _, _, port in endpoints):
        return config
    bound = {listener.name: listener.port for listener in listeners}
    text = ",".join(
        f"{name}://{f'[{host}]' if ':' in host else host}:{port or bound.get(name, 0)}"
        for name, host, port in endpoints
    )
    return config.model_copy(update={"advertised_listeners": text})


def _set_limits(server: object, config: BrokerConfig) -> None:
    """``max.connections*`` and ``queued.max.request.bytes`` on the server, when set."""
    from refka.config import (
        LISTENER_PREFIX,
        broker_listeners,
        connection_overrides,
        controller_listener_name,
        inter_broker_listener,
        listener_setting,
    )

    listener_max = {}
    for key in config.model_extra:
        if key.startswith(LISTENER_PREFIX) and key.endswith(".max.connections"):
            name = key[len(LISTENER_PREFIX) : -len(".max.connections")].upper()
            listener_max[name] = listener_setting(config, name, "max_connections")
    overrides = _resolved(connection_overrides(config.max_connections_per_ip_overrides))
    limits = (config.max_connections, config.max_connections_per_ip)
    if listener_max or overrides or limits != (INT_MAX, INT_MAX):
        from refka.security.connection_quotas import ConnectionQuotas

        several = "broker" in config.process_roles and len(broker_listeners(config)) > 1
        protected = inter_broker_listener(config) if several else ""  # as Kafka's
        server.quotas = ConnectionQuotas(  # type: ignore[attr-defined]
            config.max_connections,
            config.max_connections_per_ip,
            overrides,
            listener_max,
            protected,
            frozenset({controller_listener_name(config)}),
        )
    server.max_in_flight = config.queued_max_requests  # type: ignore[attr-defined]
    if config.queued_max_request_bytes >= 0:
        from refka.security.memory_pool import MemoryPool

        server.pool = MemoryPool(config.queued_max_request_bytes)  # type: ignore[attr-defined]


INT_MAX = 2**31 - 1


def _resolved(overrides: dict[str, int]) -> dict[str, int]:
    """Host names of ``max.connections.per.ip.overrides`` resolved to addresses, as Kafka's
    ``InetAddress.getByName`` does at start."""
    if not overrides:
        return {}
    import ipaddress
    import socket

    resolved = {}
    for host, count in overrides.items():
        try:
            ipaddress.ip_address(host)
            resolved[host] = count
        except ValueError:
            try:
                for info in socket.getaddrinfo(host, None):
                    resolved[str(info[4][0])] = count
            except OSError as error:
                raise ValueError(f"max.connections.per.ip.overrides: {host}: {error}") from None
    return resolved


class _TlsSetup:
    """The TLS contexts of the listeners and of the node's own clients; ``ssl`` is imported
    only when a listener's security protocol is SSL or SASL_SSL."""

    def __init__(self, config: BrokerConfig) -> None:
        from refka.config import security_protocol

        self.config = config
        self.any = any(
            security_protocol(config, name) in ("SSL", "SASL_SSL")
            for name in _listener_names(config)
        )

    def listener(self, name: str) -> ListenerSecurity | None:
        if not self.any:
            return None
        from refka.server.tls import listener_security

        return listener_security(self.config, name)

    def clients(self, controller: bool) -> dict[str, ssl.SSLContext | None]:
        """The TLS contexts by channel for the broker's (or the controller's) clients."""
        if not self.any:
            return {}
        from refka.config import controller_listener_name, inter_broker_listener, security_protocol
        from refka.server.tls import client_context, uses_tls

        config = self.config
        c_name = controller_listener_name(config)
        contexts: dict[str, ssl.SSLContext | None] = {}
        if uses_tls(security_protocol(config, c_name)):
            contexts["*"] = client_context(config, c_name)
        if not controller and "broker" in config.process_roles:
            b_name = inter_broker_listener(config)
            tls = uses_tls(security_protocol(config, b_name))  # the replica fetchers' channel
            contexts[""] = client_context(config, b_name) if tls else None
        return contexts


def _listener_names(config: BrokerConfig) -> list[str]:
    from refka.config import _listener_list

    return [name for name, _, _ in _listener_list(config.listeners)]


def _stop(stopped: object, signum: int) -> None:
    import asyncio

    assert isinstance(stopped, asyncio.Future)
    if not stopped.done():
        stopped.set_result(signum)


def _startup_ms() -> int:
    """Milliseconds since this process started (Linux), else since this module was imported."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started_s = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        return round((time.clock_gettime(time.CLOCK_BOOTTIME) - started_s) * 1000)
    except (OSError, ValueError, IndexError, AttributeError):
        return round((time.perf_counter() - _IMPORTED_S) * 1000)
