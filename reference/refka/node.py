"""What one refka process runs, by ``process.roles`` (KIP-500): a controller core, a broker core,
or both (a combined node, refka's default). Construction only: the asyncio driver
(``refka.server.main``) and the in-process router (``refka.sim``) carry out the effects.

A combined node formats its log directory on first start (``meta.properties``, as
``kafka-storage format`` does) and its broker talks to its own controller over the controller
listener, exactly as a broker of a separate controller would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from refka.broker.meta_properties import format_directory
from refka.config import BrokerConfig
from refka.controller.quorum_controller import QuorumController
from refka.controller.settings import ControllerSettings
from refka.core.broker import SASL_SEED, Broker
from refka.core.network_client import NodeAddress
from refka.core.seeded import SeededRandom
from refka.log.storage import Storage
from refka.metadata.features import bootstrap_records
from refka.metadata.metadata_log import MetadataLog
from refka.security.authorizer import make_authorizer

if TYPE_CHECKING:
    from refka.core.trace import Tracer


def make_controller(
    config: BrokerConfig,
    storage: Storage,
    now_ms: int,
    seed: int,
    metadata_storage: Storage | None = None,
    tracer: Tracer | None = None,
    bootstrap_features: bool = True,
) -> QuorumController:
    """The controller of ``config.node_id``: its metadata log (in ``metadata.log.dir``, else
    the log dir) loaded from the latest snapshot and the log after it. A new log gets the
    cluster's finalized features first (``refka.metadata.features``), unless
    ``bootstrap_features`` is False (the simulator: its seeded schedules replay exact
    metadata offsets, and its clients use no feature)."""
    random = SeededRandom(seed)
    meta = format_directory(storage, config.node_id, random)
    if metadata_storage is not None and metadata_storage is not storage:
        format_directory(metadata_storage, config.node_id, random, meta.cluster_id)
    metadata_log = MetadataLog(metadata_storage or storage, now_ms, meta.cluster_id)
    image = metadata_log.load()
    settings = ControllerSettings.from_config(config, meta.cluster_id)
    controller = QuorumController(settings, metadata_log, image, now_ms, random.next_u64(), tracer)
    controller.dispatcher.authorizer = make_authorizer(
        config.authorizer_class_name,
        lambda: controller.image.acls,
        config.super_users,
        config.allow_everyone_if_no_acl_found,
    )
    if image.offset == -1:  # a new cluster: its finalized features (KIP-584), then what
        if bootstrap_features:  # `storage format` bootstrapped
            controller.commit(bootstrap_records(), now_ms)
        _commit_bootstrap(controller, metadata_storage or storage, now_ms)
    _controller_sasl(config, controller, seed)
    return controller


def _controller_sasl(config: BrokerConfig, controller: QuorumController, seed: int) -> None:
    """SASL on the controller listener (``listener.security.protocol.map``), SCRAM users from
    the controller's image; SaslHandshake and SaslAuthenticate are served either way, as
    Kafka's ``ControllerApis`` serves them."""
    from refka.config import controller_listener_name
    from refka.handlers.registry import sasl_apis
    from refka.security.authenticator import SaslAuthenticator
    from refka.security.settings import sasl_listeners

    nonces = SeededRandom(seed ^ SASL_SEED)
    sasl = SaslAuthenticator(
        sasl_listeners(config, [controller_listener_name(config)]),
        lambda user, mechanism: controller.image.scram_credential(user, mechanism),
        lambda: f"{nonces.next_u64():x}{nonces.next_u64():x}",
    )
    controller.apis.update(sasl_apis(sasl))
    controller.dispatcher.gate = sasl
    sasl.on_authenticated = controller.dispatcher.authenticate


def _commit_bootstrap(controller: QuorumController, storage: Storage, now_ms: int) -> None:
    """The ``--add-scram`` records of ``refka storage format`` (``bootstrap.records``)."""
    from refka.security.scram_bootstrap import BOOTSTRAP_FILE, decode_bootstrap

    if storage.exists(BOOTSTRAP_FILE):
        data = storage.read(BOOTSTRAP_FILE, 0, storage.size(BOOTSTRAP_FILE))
        controller.commit(decode_bootstrap(data), now_ms)


def make_broker(
    config: BrokerConfig,
    storage: Storage,
    now_ms: int,
    seed: int,
    host_name: str = "localhost",
    controller: NodeAddress | None = None,
    tracer: Tracer | None = None,
) -> Broker:
    """The broker of ``config.node_id``; ``controller`` overrides ``controller.quorum.voters``."""
    return Broker(config, storage, now_ms, seed, host_name, controller, tracer)
