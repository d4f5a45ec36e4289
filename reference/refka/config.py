"""Broker configuration: Kafka's ``server.properties`` keys, types and defaults.

One frozen typed model, :class:`BrokerConfig` (a :mod:`refka.config_model` model, no schema
library: it builds in about a millisecond, for the broker's start). Each attribute is a Kafka
key with dots turned into underscores (``log.segment.bytes`` -> ``log_segment_bytes``); the
Kafka key is the field's alias, so ``BrokerConfig.model_validate({"log.dirs": "x"})`` works,
and each field's description is Kafka's documentation of that key. Defaults are Kafka's, except
the embedded ones: one node (``node.id`` 1) listening on ``PLAINTEXT://127.0.0.1:9092`` with
its data in ``./data``.

Kafka's derived keys are resolved before validation (``KafkaConfig``/``LogConfig`` do the same):
``log.roll.hours`` -> ``log.roll.ms``, ``log.retention.hours``/``minutes`` -> ``log.retention.ms``,
``log.dirs`` falls back to ``log.dir``, ``log.flush.interval.ms`` to
``log.flush.scheduler.interval.ms``. ``log.dirs`` may list several directories (``log_dir_paths``).

:func:`load_config` reads a ``.properties`` file plus ``--set key=value`` overrides: an unknown
key is a warning (as Kafka logs "supplied but isn't a known config"), a bad value a
:class:`ConfigError` naming the key.
"""

from __future__ import annotations

from typing import Any, Literal

from refka.bugs import Bug, parse_bugs
from refka.config_model import ConfigError, ConfigModel, setting

INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
MS_PER_HOUR = 3_600_000
MS_PER_MINUTE = 60_000


def _alias(name: str) -> str:
    return name.replace("_", ".")


def _derive(raw: dict[str, Any], warnings: list[str] | None = None) -> dict[str, Any]:
    """Resolve Kafka's derived keys in ``raw`` (keys in Kafka's dotted form)."""
    values = dict(raw)
    if values.get("log.roll.ms") is None:
        _set_ms(values, "log.roll.ms", "log.roll.hours", MS_PER_HOUR)
    if values.get("log.roll.jitter.ms") is None:
        _set_ms(values, "log.roll.jitter.ms", "log.roll.jitter.hours", MS_PER_HOUR)
    if values.get("log.retention.ms") is None:
        if values.get("log.retention.minutes") is not None:
            _set_ms(values, "log.retention.ms", "log.retention.minutes", MS_PER_MINUTE)
        else:
            _set_ms(values, "log.retention.ms", "log.retention.hours", MS_PER_HOUR)
    if values.get("log.flush.interval.ms") is None:
        values.pop("log.flush.interval.ms", None)
        if "log.flush.scheduler.interval.ms" in values:
            values["log.flush.interval.ms"] = values["log.flush.scheduler.interval.ms"]
    if values.get("log.dirs") is None and values.get("log.dir") is not None:
        values["log.dirs"] = values["log.dir"]
    return values


def _set_ms(values: dict[str, Any], ms_key: str, key: str, factor: int) -> None:
    """``values[ms_key] = values[key] * factor`` (a negative time means -1, no limit)."""
    values.pop(ms_key, None)  # an explicit None means "not set", as in Kafka
    if key not in values:
        return
    try:
        number = int(str(values[key]).strip())
    except ValueError:
        return  # left for the validation of ``key`` itself to report
    values[ms_key] = -1 if number < 0 else number * factor


_f = setting

LISTENER_PREFIX = "listener.name."
"""Kafka's per-listener keys: ``listener.name.<name>.<key>`` wins over ``<key>`` there."""


class BrokerConfig(ConfigModel):
    """The broker's configuration: Kafka's keys (as aliases), types, defaults and docs."""

    PREFIXES = (LISTENER_PREFIX,)

    # --- server basics ----------------------------------------------------------------
    node_id: int = _f(
        1,
        "The node ID associated with the roles this process is playing when `process.roles` "
        "is non-empty. refka runs one node; its default is 1 (Kafka requires it to be set).",
        ge=0,
        le=INT_MAX,
    )
    broker_id: int = _f(
        -1,
        "The broker id for this server (ZooKeeper mode). Accepted for compatibility; refka "
        "uses `node.id`.",
    )
    process_roles: str = _f(
        "broker,controller",
        "The roles that this process plays: 'broker', 'controller', or 'broker,controller'. "
        "A combined node (the default) runs both in one process.",
    )
    listeners: str = _f(
        "PLAINTEXT://127.0.0.1:9092",
        "Listener List - Comma-separated list of URIs we will listen on and the listener names. "
        "Specify hostname as 0.0.0.0 to bind to all interfaces. Leave hostname empty to bind to "
        "the default interface. Example: PLAINTEXT://myhost:9092. A broker serves clients on the "
        "listeners not named in `controller.listener.names` (each name once, each in "
        "`listener.security.protocol.map`); a controller serves on the first that is. A "
        "combined node without a controller listener gets one on an ephemeral loopback port.",
    )
    advertised_listeners: str | None = _f(
        None,
        "Listeners to publish to ZooKeeper/clients to use, if different than the `listeners` "
        "config property. If this is not set, the value for `listeners` will be used. Their "
        "names must be among those of `listeners`; port 0 stands for the port the listener "
        "of that name bound.",
    )
    controller_listener_names: str = _f(
        "",
        "A comma-separated list of the names of the listeners used by the controller. Empty: "
        "CONTROLLER.",
    )
    listener_security_protocol_map: str = _f(
        "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        "Map between listener names and security protocols: PLAINTEXT, SSL, SASL_PLAINTEXT or "
        "SASL_SSL (another is a config error). A controller listener missing from it is "
        "PLAINTEXT.",
    )
    inter_broker_listener_name: str | None = _f(
        None,
        "Name of listener used for communication between brokers: followers fetch from the "
        "leader's endpoint of this listener. It must be one of `advertised.listeners`. Unset: "
        "the first listener not named in `controller.listener.names`.",
    )
    # --- TLS (the SSL and SASL_SSL listeners; each key may be set per listener as
    # ``listener.name.<name>.<key>``) -------------------------------------------------------
    ssl_keystore_type: str = _f(
        "JKS",
        "The file format of the key store file. refka reads PEM only: an SSL listener needs "
        "`ssl.keystore.type=PEM`.",
    )
    ssl_keystore_location: str | None = _f(
        None,
        "The location of the key store file: with PEM, one file holding the private key and "
        "the certificate chain.",
    )
    ssl_keystore_password: str | None = _f(
        None, "The store password for the key store file. Not used with PEM."
    )
    ssl_keystore_certificate_chain: str | None = _f(
        None,
        "Certificate chain in the format specified by 'ssl.keystore.type' (PEM: X.509 "
        "certificates), instead of `ssl.keystore.location` (KIP-651).",
    )
    ssl_keystore_key: str | None = _f(
        None,
        "Private key in the format specified by 'ssl.keystore.type' (PEM: PKCS#8, encrypted "
        "with `ssl.key.password` if set), with `ssl.keystore.certificate.chain` (KIP-651).",
    )
    ssl_key_password: str | None = _f(
        None, "The password of the private key in the key store file or the PEM key."
    )
    ssl_truststore_type: str = _f(
        "JKS",
        "The file format of the trust store file. refka reads PEM only "
        "(`ssl.truststore.type=PEM`).",
    )
    ssl_truststore_location: str | None = _f(
        None, "The location of the trust store file: PEM certificates of trusted authorities."
    )
    ssl_truststore_password: str | None = _f(
        None, "The password for the trust store file. Not used with PEM."
    )
    ssl_truststore_certificates: str | None = _f(
        None,
        "Trusted certificates in the format specified by 'ssl.truststore.type' (PEM), instead "
        "of `ssl.truststore.location` (KIP-651).",
    )
    ssl_client_auth: Literal["none", "requested", "required"] = _f(
        "none",
        "Whether the broker requests client authentication: `required` refuses a client "
        "without a trusted certificate, `requested` asks for one but accepts none, `none` "
        "does not ask.",
    )
    ssl_principal_mapping_rules: str = _f(
        "DEFAULT",
        "A list of rules for mapping from distinguished name from the client certificate to "
        "short name: RULE:pattern/replacement/[LU], or DEFAULT (the name as is).",
    )
    ssl_endpoint_identification_algorithm: str = _f(
        "https",
        "The endpoint identification algorithm to validate server hostname using server "
        "certificate (refka's inter-broker and controller clients); empty: no check.",
    )
    ssl_enabled_protocols: str = _f(
        "TLSv1.2,TLSv1.3", "The list of protocols enabled for SSL connections."
    )
    controller_quorum_voters: str = _f(
        "",
        "Map of id/endpoint information for the set of voters in a comma-separated list of "
        "{id}@{host}:{port} entries. refka has one voter (the first). Empty on a combined node: "
        "the node's own controller listener.",
    )
    controller_quorum_bootstrap_servers: str = _f(
        "",
        "List of endpoints used to discover the controller quorum: used when "
        "`controller.quorum.voters` is empty.",
    )
    broker_rack: str | None = _f(
        None, "Rack of the broker. This will be used in rack aware replication assignment."
    )
    num_network_threads: int = _f(
        3,
        "The number of threads that the server uses for receiving requests from the network "
        "and sending responses to the network. Accepted and ignored: refka has one event loop.",
        ge=1,
    )
    num_io_threads: int = _f(
        8,
        "The number of threads that the server uses for processing requests, which may include "
        "disk I/O. Accepted and ignored: refka has one event loop.",
        ge=1,
    )
    num_recovery_threads_per_data_dir: int = _f(
        2,
        "The number of threads per data directory to be used for log recovery at startup and "
        "flushing at shutdown. Accepted and ignored.",
        ge=1,
    )
    socket_send_buffer_bytes: int = _f(
        102400,
        "The SO_SNDBUF buffer of the socket server sockets. If the value is -1, the OS default "
        "will be used.",
    )
    socket_receive_buffer_bytes: int = _f(
        102400,
        "The SO_RCVBUF buffer of the socket server sockets. If the value is -1, the OS default "
        "will be used.",
    )
    socket_request_max_bytes: int = _f(
        104857600,
        "The maximum number of bytes in a socket request. A larger request closes the connection.",
        ge=1,
        le=INT_MAX,
    )
    max_connections: int = _f(
        INT_MAX,
        "The maximum number of connections we allow in the broker at any time, in addition to "
        "the per-ip limits; per listener as `listener.name.<name>.max.connections`. A new "
        "connection over it is closed (Kafka's acceptor waits for a slot instead); the "
        "inter-broker listener is exempt from the broker-wide limit.",
        ge=0,
    )
    max_connections_per_ip: int = _f(
        INT_MAX,
        "The maximum number of connections we allow from each ip address; a new connection "
        "over it is closed.",
        ge=0,
    )
    max_connections_per_ip_overrides: str = _f(
        "",
        "A comma-separated list of per-ip or hostname overrides to the default maximum number "
        'of connections. An example value is "hostName:100,127.0.0.1:200".',
    )
    connections_max_idle_ms: int = _f(
        600000,
        "Idle connections timeout: the server socket processor threads close the connections "
        "that idle more than this. A request frame not completed within this time also closes "
        "its connection (refka's guard against abandoned frames).",
    )
    # --- KRaft: the broker's life with the controller (KIP-631) ------------------------------
    broker_heartbeat_interval_ms: int = _f(
        2000, "The length of time in milliseconds between broker heartbeats.", ge=1
    )
    broker_session_timeout_ms: int = _f(
        9000,
        "The length of time in milliseconds that a broker lease lasts if no heartbeats are made.",
        ge=1,
    )
    metadata_log_dir: str | None = _f(
        None,
        "This configuration determines where we put the metadata log. If it is not set, the "
        "metadata log is placed in the first log directory from log.dirs.",
    )
    metadata_log_max_record_bytes_between_snapshots: int = _f(
        20 * 1024 * 1024,
        "This is the maximum number of bytes in the log between the latest snapshot and the "
        "high-watermark needed before generating a new snapshot.",
        ge=1,
    )
    auto_leader_rebalance_enable: bool = _f(
        True,
        "Enables auto leader balancing. A background thread checks the distribution of partition "
        "leaders at regular intervals, configurable by leader.imbalance.check.interval.seconds.",
    )
    leader_imbalance_check_interval_seconds: int = _f(
        300, "The frequency with which the partition rebalance check is triggered.", ge=1
    )
    # --- replication: followers fetch from leaders -------------------------------------------
    replica_lag_time_max_ms: int = _f(
        30000,
        "If a follower hasn't sent any fetch requests or hasn't consumed up to the leader's log "
        "end offset for at least this time, the leader will remove the follower from isr.",
        ge=1,
    )
    replica_high_watermark_checkpoint_interval_ms: int = _f(
        5000, "The frequency with which the high watermark is saved out to disk.", ge=1
    )
    replica_fetch_wait_max_ms: int = _f(
        500, "The maximum wait time for each fetcher request issued by follower replicas.", ge=0
    )
    replica_fetch_min_bytes: int = _f(1, "Minimum bytes expected for each fetch response.", ge=1)
    replica_fetch_max_bytes: int = _f(
        1048576, "The number of bytes of messages to attempt to fetch for each partition.", ge=0
    )
    replica_fetch_response_max_bytes: int = _f(
        10485760, "Maximum bytes expected for the entire fetch response.", ge=0
    )
    replica_fetch_backoff_ms: int = _f(
        1000, "The amount of time to sleep when fetch partition error occurs.", ge=0
    )
    # --- the broker's own client (NetworkClient): requests to other nodes -------------------
    request_timeout_ms: int = _f(
        30000,
        "The configuration controls the maximum amount of time the client will wait for the "
        "response of a request. If the response is not received before the timeout elapses the "
        "client will resend the request if necessary or fail the request if retries are "
        "exhausted.",
        ge=0,
        le=INT_MAX,
    )
    reconnect_backoff_ms: int = _f(
        50,
        "The base amount of time to wait before attempting to reconnect to a given host. This "
        "avoids repeatedly connecting to a host in a tight loop. This backoff applies to all "
        "connection attempts by the client to a broker. This value is the initial backoff value "
        "and will increase exponentially for each consecutive connection failure, up to the "
        "`reconnect.backoff.max.ms` value.",
        ge=0,
    )
    reconnect_backoff_max_ms: int = _f(
        1000,
        "The maximum amount of time in milliseconds to wait when reconnecting to a broker that "
        "has repeatedly failed to connect. If provided, the backoff per host will increase "
        "exponentially for each consecutive connection failure, up to this maximum. After "
        "calculating the backoff increase, 20% random jitter is added to avoid connection "
        "storms.",
        ge=0,
    )
    queued_max_requests: int = _f(
        500,
        "The number of queued requests allowed for data-plane, before blocking the network "
        "threads: a connection with this many requests unanswered is not read.",
        ge=1,
    )
    queued_max_request_bytes: int = _f(
        -1,
        "The number of queued bytes allowed before no more requests are read: a frame's "
        "size is reserved when its size prefix arrives, and a connection that cannot reserve "
        "it is not read until memory is released. -1: no limit.",
    )
    message_max_bytes: int = _f(
        1048588,
        "The largest record batch size allowed by Kafka (after compression if compression is "
        "enabled). This can be set per topic with the topic level `max.message.bytes` config.",
        ge=0,
        le=INT_MAX,
    )
    fetch_max_bytes: int = _f(
        57671680,
        "The maximum number of bytes we will return for a fetch request. Must be at least 1024.",
        ge=1024,
        le=INT_MAX,
    )

    # --- topics -----------------------------------------------------------------------
    num_partitions: int = _f(1, "The default number of log partitions per topic.", ge=1, le=INT_MAX)
    default_replication_factor: int = _f(
        1,
        "The default replication factors for automatically created topics.",
        ge=1,
        le=INT_MAX,
    )
    min_insync_replicas: int = _f(
        1,
        'When a producer sets acks to "all" (or "-1"), `min.insync.replicas` specifies the '
        "minimum number of replicas that must acknowledge a write for the write to be "
        "considered successful. If this minimum cannot be met, then the producer will raise an "
        "exception (either NotEnoughReplicas or NotEnoughReplicasAfterAppend).",
        ge=1,
        le=INT_MAX,
    )
    auto_create_topics_enable: bool = _f(True, "Enable auto creation of topic on the server.")
    delete_topic_enable: bool = _f(
        True,
        "Enables delete topic. Delete topic through the admin tool will have no effect if this "
        "config is turned off.",
    )
    unclean_leader_election_enable: bool = _f(
        False,
        "Indicates whether to enable replicas not in the ISR set to be elected as leader as a "
        "last resort, even though doing so may result in data loss.",
    )
    unclean_leader_election_interval_ms: int = _f(
        300000,
        "The frequency with which the controller checks if it should perform an unclean leader "
        "election for leaderless partitions.",
        ge=1,
    )
    compression_type: str = _f(
        "producer",
        "Specify the final compression type for a given topic. This configuration accepts the "
        "standard compression codecs ('gzip', 'snappy', 'lz4', 'zstd'). It additionally "
        "accepts 'uncompressed' which is equivalent to no compression; and 'producer' which "
        "means retain the original compression codec set by the producer.",
        pattern=r"^(producer|uncompressed|gzip|snappy|lz4|zstd)$",
    )
    telemetry_max_bytes: int = _f(
        1048576,
        "The maximum size (after compression if compression is used) of telemetry metrics "
        "pushed from a client to the broker. The default value is 1048576 (1 MB).",
        ge=1,
        le=INT_MAX,
    )
    max_request_partition_size_limit: int = _f(
        2000,
        "The maximum number of partitions can be served in one request.",
        ge=1,
        le=INT_MAX,
    )

    # --- log --------------------------------------------------------------------------
    log_dir: str | None = _f(
        None,
        "The directory in which the log data is kept (supplemental for `log.dirs` property).",
    )
    log_dirs: str = _f(
        "./data",
        "A comma-separated list of the directories where the log data is stored. If not set, "
        "the value in `log.dir` is used (default ./data).",
        min_length=1,
    )
    log_segment_bytes: int = _f(
        1073741824,
        "The maximum size of a single log file.",
        ge=14,
        le=INT_MAX,
    )
    log_roll_hours: int = _f(
        168,
        "The maximum time before a new log segment is rolled out (in hours), secondary to "
        "`log.roll.ms` property.",
        ge=1,
        le=INT_MAX,
    )
    log_roll_ms: int = _f(
        168 * MS_PER_HOUR,
        "The maximum time before a new log segment is rolled out (in milliseconds). If not set, "
        "the value in `log.roll.hours` is used.",
        ge=1,
        le=LONG_MAX,
    )
    log_retention_hours: int = _f(
        168,
        "The number of hours to keep a log file before deleting it (in hours), tertiary to "
        "`log.retention.ms` property.",
        le=INT_MAX,
    )
    log_retention_minutes: int | None = _f(
        None,
        "The number of minutes to keep a log file before deleting it (in minutes), secondary to "
        "`log.retention.ms` property. If not set, the value in `log.retention.hours` is used.",
        le=INT_MAX,
    )
    log_retention_ms: int = _f(
        168 * MS_PER_HOUR,
        "The number of milliseconds to keep a log file before deleting it (in milliseconds). If "
        "not set, the value in `log.retention.minutes` is used. If set to -1, no time limit is "
        "applied.",
        ge=-1,
        le=LONG_MAX,
    )
    log_retention_bytes: int = _f(
        -1,
        "The maximum size of the log before deleting it. -1 means no size limit.",
        le=LONG_MAX,
    )
    log_retention_check_interval_ms: int = _f(
        300000,
        "The frequency in milliseconds that the log cleaner checks whether any log is eligible "
        "for deletion.",
        ge=1,
        le=LONG_MAX,
    )
    log_segment_delete_delay_ms: int = _f(
        60000,
        "The amount of time to wait before deleting a file from the filesystem.",
        ge=0,
        le=LONG_MAX,
    )
    log_flush_interval_messages: int = _f(
        LONG_MAX,
        "The number of messages accumulated on a log partition before messages are flushed to "
        "disk.",
        ge=1,
        le=LONG_MAX,
    )
    log_flush_interval_ms: int = _f(
        LONG_MAX,
        "The maximum time in ms that a message in any topic is kept in memory before flushed to "
        "disk. If not set, the value in `log.flush.scheduler.interval.ms` is used.",
        ge=0,
        le=LONG_MAX,
    )
    log_flush_offset_checkpoint_interval_ms: int = _f(
        60000,
        "The frequency with which we update the persistent record of the last flush which acts "
        "as the log recovery point.",
        ge=0,
        le=INT_MAX,
    )
    log_flush_start_offset_checkpoint_interval_ms: int = _f(
        60000,
        "The frequency with which we update the persistent record of log start offset",
        ge=0,
        le=INT_MAX,
    )
    log_flush_scheduler_interval_ms: int = _f(
        LONG_MAX,
        "The frequency in ms that the log flusher checks whether any log needs to be flushed to "
        "disk.",
        le=LONG_MAX,
    )
    log_index_interval_bytes: int = _f(
        4096,
        "The interval with which we add an entry to the offset index.",
        ge=0,
        le=INT_MAX,
    )
    log_index_size_max_bytes: int = _f(
        10485760,
        "The maximum size in bytes of the offset index.",
        ge=4,
        le=INT_MAX,
    )
    log_message_timestamp_type: Literal["CreateTime", "LogAppendTime"] = _f(
        "CreateTime",
        "Define whether the timestamp in the message is message create time or log append "
        "time. The value should be either `CreateTime` or `LogAppendTime`.",
    )
    log_message_timestamp_before_max_ms: int = _f(
        LONG_MAX,
        "The maximum difference allowed between the timestamp when a broker receives a message "
        "and the timestamp specified in the message, for timestamps in the past (KIP-937).",
        ge=0,
    )
    log_message_timestamp_after_max_ms: int = _f(
        3_600_000,
        "The maximum difference allowed between the timestamp when a broker receives a message "
        "and the timestamp specified in the message, for timestamps in the future (KIP-937).",
        ge=0,
    )
    log_cleanup_policy: str = _f(
        "delete",
        "The default cleanup policy for segments beyond the retention window. A comma separated "
        'list of valid policies: "delete" and "compact".',
    )
    log_preallocate: bool = _f(
        False,
        "Should pre allocate file when create new segment? Accepted and ignored.",
    )
    log_roll_jitter_hours: int = _f(
        0,
        "The maximum jitter to subtract from logRollTimeMillis (in hours), secondary to "
        "`log.roll.jitter.ms` property.",
        ge=0,
        le=INT_MAX,
    )
    log_roll_jitter_ms: int | None = _f(
        None,
        "The maximum jitter to subtract from logRollTimeMillis (in milliseconds). If not set, "
        "the value in `log.roll.jitter.hours` is used.",
        ge=0,
        le=LONG_MAX,
    )
    max_decompressed_message_bytes: int = _f(
        2147483639,
        "The largest record batch size allowed after decompression. A compressed batch that "
        "decompresses to more is refused with INVALID_RECORD.",
        ge=1,
        le=INT_MAX,
    )
    compression_gzip_level: int = _f(
        -1, "The compression level to use if compression.type is set to 'gzip'.", ge=-1, le=9
    )
    compression_lz4_level: int = _f(
        9, "The compression level to use if compression.type is set to 'lz4'.", ge=1, le=17
    )
    compression_zstd_level: int = _f(
        3, "The compression level to use if compression.type is set to 'zstd'.", ge=-131072, le=22
    )
    log_local_retention_ms: int = _f(
        -2,
        "Tiered storage: the time to retain local log segments. Accepted and ignored.",
        ge=-2,
    )
    log_local_retention_bytes: int = _f(
        -2,
        "Tiered storage: the size of local log segments to retain. Accepted and ignored.",
        ge=-2,
    )
    log_remote_copy_lag_ms: int = _f(
        0, "Tiered storage: how long to wait before copying a segment. Accepted and ignored.", ge=-1
    )
    log_remote_copy_lag_bytes: int = _f(
        -1, "Tiered storage: bytes to accumulate before copying. Accepted and ignored.", ge=-1
    )

    # --- log cleaner (compaction) -----------------------------------------------------
    log_cleaner_enable: bool = _f(
        True,
        "Enable the log cleaner process to run on the server. Should be enabled if using any "
        "topics with a cleanup.policy=compact including the internal offsets topic.",
    )
    log_cleaner_threads: int = _f(
        1,
        "The number of background threads to use for log cleaning. refka cleans on its event "
        "loop, one log per tick.",
        ge=0,
    )
    log_cleaner_backoff_ms: int = _f(
        15000, "The amount of time to sleep when there are no logs to clean.", ge=0
    )
    log_cleaner_min_cleanable_ratio: float = _f(
        0.5,
        "The minimum ratio of dirty log to total log for a log to eligible for cleaning.",
        ge=0,
        le=1,
    )
    log_cleaner_delete_retention_ms: int = _f(
        86400000,
        "The amount of time to retain tombstone message markers for log compacted topics.",
        ge=0,
    )
    log_cleaner_min_compaction_lag_ms: int = _f(
        0,
        "The minimum time a message will remain uncompacted in the log.",
        ge=0,
    )
    log_cleaner_max_compaction_lag_ms: int = _f(
        LONG_MAX,
        "The maximum time a message will remain ineligible for compaction in the log.",
        ge=1,
    )
    log_cleaner_dedupe_buffer_size: int = _f(
        134217728,
        "The total memory used for log deduplication across all cleaner threads: the offset "
        "map holds this many bytes / 24 keys (a 16-byte hash and an 8-byte offset each).",
        ge=0,
    )
    log_cleaner_io_buffer_load_factor: float = _f(
        0.9, "Log cleaner dedupe buffer load factor.", ge=0, le=1
    )

    # --- consumer groups and offsets --------------------------------------------------
    offsets_topic_num_partitions: int = _f(
        50,
        "The number of partitions for the offset commit topic (should not change after "
        "deployment).",
        ge=1,
        le=INT_MAX,
    )
    offsets_topic_replication_factor: int = _f(
        3,
        "The replication factor for the offsets topic (set higher to ensure availability). "
        "Internal topic creation will fail until the cluster size meets this replication "
        "factor requirement.",
        ge=1,
        le=32767,
    )
    offsets_topic_segment_bytes: int = _f(
        104857600,
        "The offsets topic segment bytes should be kept relatively small in order to facilitate "
        "faster log compaction and cache loads.",
        ge=1,
        le=INT_MAX,
    )
    offsets_retention_minutes: int = _f(
        10080,
        "For subscribed consumers, committed offset of a specific partition will be expired and "
        "discarded when 1) this retention period has elapsed after the consumer group loses all "
        "its consumers (i.e. becomes empty); 2) this retention period has elapsed since the last "
        "time an offset is committed for the partition and the group is no longer subscribed to "
        "the corresponding topic.",
        ge=1,
        le=INT_MAX,
    )
    offsets_retention_check_interval_ms: int = _f(
        600000, "Frequency at which to check for stale offsets.", ge=1, le=LONG_MAX
    )
    offsets_commit_timeout_ms: int = _f(
        5000,
        "Offset commit will be delayed until all replicas for the offsets topic receive the "
        "commit or this timeout is reached.",
        ge=1,
        le=INT_MAX,
    )
    offsets_load_buffer_size: int = _f(
        5242880,
        "Batch size for reading from the offsets segments when loading group metadata into the "
        "cache (soft-limit, overridden if records are too large).",
        ge=1,
        le=INT_MAX,
    )
    offset_metadata_max_bytes: int = _f(
        4096, "The maximum size for a metadata entry associated with an offset commit."
    )
    group_initial_rebalance_delay_ms: int = _f(
        3000,
        "The amount of time the group coordinator will wait for more consumers to join a new "
        "group before performing the first rebalance. A longer delay means potentially fewer "
        "rebalances, but increases the time until processing begins.",
        ge=0,
        le=INT_MAX,
    )
    group_min_session_timeout_ms: int = _f(
        6000,
        "The minimum allowed session timeout for registered consumers. Shorter timeouts result "
        "in quicker failure detection at the cost of more frequent consumer heartbeating, which "
        "can overwhelm broker resources.",
        le=INT_MAX,
    )
    group_max_session_timeout_ms: int = _f(
        1800000,
        "The maximum allowed session timeout for registered consumers. Longer timeouts give "
        "consumers more time to process messages in between heartbeats at the cost of a longer "
        "time to detect failures.",
        le=INT_MAX,
    )
    group_max_size: int = _f(
        INT_MAX,
        "The maximum number of consumers that a single consumer group can accommodate.",
        ge=1,
        le=INT_MAX,
    )
    group_consumer_session_timeout_ms: int = _f(
        45000,
        "The timeout to detect client failures when using the consumer group protocol.",
        ge=1,
        le=INT_MAX,
    )
    group_consumer_heartbeat_interval_ms: int = _f(
        5000,
        "The heartbeat interval given to the members of a consumer group.",
        ge=1,
        le=INT_MAX,
    )
    group_consumer_max_size: int = _f(
        INT_MAX,
        "The maximum number of consumers that a single consumer group can accommodate.",
        ge=1,
        le=INT_MAX,
    )
    group_consumer_assignors: str = _f(
        "uniform,range",
        "The server side assignors as a list of either names for builtin assignors or full "
        "class names for customer assignors. The first one in the list is considered as the "
        "default assignor to be used in the case where the consumer does not specify an "
        "assignor. The supported builtin assignors are: uniform, range.",
    )
    group_consumer_migration_policy: str = _f(
        "bidirectional",
        "The config that enables converting the non-empty classic group using the consumer "
        "embedded protocol to the non-empty consumer group using the consumer group protocol and "
        "vice versa; conversions of empty groups in both directions are always enabled "
        "regardless of this policy. bidirectional: both upgrade from classic group to consumer "
        "group and downgrade from consumer group to classic group are enabled, upgrade: only "
        "upgrade from classic group to consumer group is enabled, downgrade: only downgrade from "
        "consumer group to classic group is enabled, disabled: neither upgrade nor downgrade is "
        "enabled.",
    )

    # --- transactions and idempotence -------------------------------------------------
    transactional_id_expiration_ms: int = _f(
        604800000,
        "The time in ms that the transaction coordinator will wait without receiving any "
        "transaction status updates for the current transaction before expiring its "
        "transactional id.",
        ge=1,
        le=INT_MAX,
    )
    transaction_remove_expired_transaction_cleanup_interval_ms: int = _f(
        3600000,
        "The interval at which to remove transactions that have expired due to "
        "<code>transactional.id.expiration.ms</code> passing.",
        ge=1,
        le=INT_MAX,
    )
    transaction_max_timeout_ms: int = _f(
        900000,
        "The maximum allowed timeout for transactions. If a client's requested transaction time "
        "exceed this, then the broker will return an error in InitProducerIdRequest.",
        ge=1,
        le=INT_MAX,
    )
    transaction_state_log_num_partitions: int = _f(
        50,
        "The number of partitions for the transaction topic (should not change after deployment).",
        ge=1,
        le=INT_MAX,
    )
    transaction_state_log_replication_factor: int = _f(
        3,
        "The replication factor for the transaction topic (set higher to ensure availability).",
        ge=1,
        le=32767,
    )
    transaction_state_log_min_isr: int = _f(
        2,
        "The minimum number of replicas that must acknowledge a write to transaction topic in "
        "order to be considered successful.",
        ge=1,
        le=INT_MAX,
    )
    transaction_state_log_load_buffer_size: int = _f(
        5242880,
        "Batch size for reading from the transaction log segments when loading producer ids and "
        "transactions into the cache (soft-limit, overridden if records are too large).",
        ge=1,
        le=INT_MAX,
    )
    producer_id_expiration_ms: int = _f(
        86400000,
        "The time in ms that a topic partition leader will wait before expiring producer IDs. "
        "Producer IDs will not expire while a transaction associated to them is still ongoing.",
        ge=1,
        le=INT_MAX,
    )

    # --- authorization (refka.security.authorizer) ------------------------------------------
    authorizer_class_name: str = _f(
        "",
        "The fully qualified name of a class that implements the Authorizer interface, which "
        "is used by the broker for authorization. refka knows "
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer (ACLs in the metadata log); "
        "empty: no authorizer, every request is allowed.",
    )
    super_users: str = _f(
        "",
        "Principals, separated by semicolons (User:alice;User:bob), allowed every operation "
        "on every resource by the StandardAuthorizer.",
    )
    allow_everyone_if_no_acl_found: bool = _f(
        False,
        "Whether the StandardAuthorizer allows a request on a resource no ACL covers.",
    )

    # --- SASL (KIP-43, KIP-84, KIP-152, KIP-368); per listener as listener.name.<l>.<key> --
    sasl_enabled_mechanisms: str = _f(
        "GSSAPI",
        "The list of SASL mechanisms enabled in the Kafka server. The list may contain any "
        "mechanism for which a security provider is available. refka serves PLAIN, "
        "SCRAM-SHA-256 and SCRAM-SHA-512; GSSAPI (the default) is not served.",
    )
    sasl_jaas_config: str | None = _f(
        None,
        "JAAS login context parameters for SASL connections in the format used by JAAS "
        "configuration files. For brokers, the config must be prefixed with listener prefix "
        "and SASL mechanism name in lower-case, e.g. "
        "listener.name.sasl_plaintext.plain.sasl.jaas.config.",
    )
    sasl_mechanism_inter_broker_protocol: str = _f(
        "GSSAPI", "SASL mechanism used for inter-broker communication. Default is GSSAPI."
    )
    sasl_mechanism_controller_protocol: str = _f(
        "GSSAPI", "SASL mechanism used for communication with controllers. Default is GSSAPI."
    )
    connection_failed_authentication_delay_ms: int = _f(
        100,
        "Connection close delay on failed authentication: this is the time (in milliseconds) "
        "by which connection close will be delayed on authentication failure. This must be "
        "configured to be less than connections.max.idle.ms to prevent connection timeout. "
        "refka's broker delays the close (the answer leaves at once); its controller closes "
        "at once.",
        ge=0,
    )
    connections_max_reauth_ms: int = _f(
        0,
        "When explicitly set to a positive number (the default is 0, not a positive number), a "
        "session lifetime that will not exceed the configured value will be communicated to "
        "v2.2.0 or later clients when they authenticate. The broker will disconnect any such "
        "connection that is not re-authenticated within the session lifetime and that is then "
        "subsequently used for any purpose other than re-authentication.",
        ge=0,
    )

    # --- client quotas (KIP-13, KIP-219) ------------------------------------------------
    quota_window_num: int = _f(
        11, "The number of samples to retain in memory for client quotas", ge=1, le=INT_MAX
    )
    quota_window_size_seconds: int = _f(
        1, "The time span of each sample for client quotas", ge=1, le=INT_MAX
    )

    # --- delegation tokens (KIP-48, KIP-373) ----------------------------------------------
    delegation_token_secret_key: str | None = _f(
        None,
        "Secret key to generate and verify delegation tokens. The same key must be configured "
        "across all the brokers. If using Kafka with KRaft, the key must also be set across all "
        "controllers. If the key is not set or set to empty string, brokers will disable the "
        "delegation token support.",
    )
    delegation_token_max_lifetime_ms: int = _f(
        604_800_000,
        "The token has a maximum lifetime beyond which it cannot be renewed anymore. Default "
        "value 7 days.",
        ge=1,
    )
    delegation_token_expiry_time_ms: int = _f(
        86_400_000,
        "The token validity time in milliseconds before the token needs to be renewed. "
        "Default value 1 day.",
        ge=1,
    )
    delegation_token_expiry_check_interval_ms: int = _f(
        3_600_000,
        "Scan interval to remove expired delegation tokens.",
        ge=1,
    )

    # --- refka's own: the simulator's bug switches and the trace ---------------------------
    refka_bugs: str = _f(
        "",
        "Historical Kafka bugs to switch back on, comma-separated, named as their TLA+ "
        "configurations in spec/bugs/ (e.g. TruncateToHighWatermark). For the model tests "
        "only; empty (the default) is Kafka's behaviour.",
    )
    refka_trace_file: str | None = _f(
        None,
        "Record this node's trace events (refka.core.trace) to this file, for trace "
        "validation; {node} in the path is replaced by node.id. Unset: no tracing.",
    )

    @property
    def log_dir_paths(self) -> list[str]:
        """The directories of ``log.dirs``, in order; the first holds the checkpoints."""
        return [d.strip() for d in self.log_dirs.split(",") if d.strip()]

    @property
    def first_log_dir(self) -> str:
        return self.log_dir_paths[0]

    @property
    def bugs(self) -> frozenset[Bug]:
        """The switched-on bugs of ``refka.bugs``."""
        return parse_bugs(self.refka_bugs)

    def _before(self, data: dict[str, Any]) -> dict[str, Any]:
        """Resolve ``*.hours``/``*.minutes`` -> ``*.ms`` and ``log.dir`` -> ``log.dirs``."""
        dotted = {_alias(k) if "_" in k and "." not in k else k: v for k, v in data.items()}
        return _derive(dotted)

    def _field_check(self, name: str, value: Any) -> Any:
        if name == "refka_bugs":
            parse_bugs(value)
        elif name == "group_consumer_migration_policy" and str(value).lower() not in (
            "disabled",
            "upgrade",
            "downgrade",
            "bidirectional",
        ):
            raise ValueError(f"group.consumer.migration.policy: {value!r} is not a policy")
        elif name in ("listeners", "advertised_listeners") and value is not None:
            _listener_list(value)
        elif name == "ssl_principal_mapping_rules":
            from refka.security.principal_mapping import parse_rules

            parse_rules(value)
        elif name == "max_connections_per_ip_overrides":
            connection_overrides(value)
        return value

    def _after(self) -> None:
        if self.group_min_session_timeout_ms > self.group_max_session_timeout_ms:
            raise ValueError(
                "group.min.session.timeout.ms must not exceed group.max.session.timeout.ms"
            )
        check_listeners(self)


KNOWN_KEYS: frozenset[str] = frozenset(
    f.alias or _alias(n) for n, f in BrokerConfig.model_fields.items()
)
"""Every Kafka key refka accepts (the others are warned about and ignored)."""


# --- listeners --------------------------------------------------------------------------


def _listener_list(value: str) -> list[tuple[str, str, int]]:
    """Parse ``NAME://host:port,...`` into ``(name, host, port)`` tuples."""
    listeners = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        name, sep, rest = entry.partition("://")
        host, colon, port_text = rest.rpartition(":")
        if not sep or not name or not colon or not port_text.isdigit():
            raise ValueError(f"{entry!r} is not of the form NAME://host:port")
        port = int(port_text)
        if port > 65535:
            raise ValueError(f"port {port} in {entry!r} is out of range")
        listeners.append((name.upper(), host.strip("[]"), port))
    if not listeners:
        raise ValueError("no listener given")
    return listeners


def _controller_names(config: BrokerConfig) -> set[str]:
    names = config.controller_listener_names or "CONTROLLER"
    return {n.strip().upper() for n in names.split(",") if n.strip()}


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def security_protocol(config: BrokerConfig, listener: str) -> str:
    """The security protocol of ``listener`` (PLAINTEXT when the map does not name it)."""
    return _protocol_map(config).get(listener.upper(), "PLAINTEXT")


def listener_setting(config: BrokerConfig, listener: str, name: str) -> Any:
    """Field ``name`` (``ssl_client_auth``) for ``listener``: its ``listener.name.<listener>.``
    key if set (validated as the field), else the broker-wide value."""
    field = BrokerConfig.model_fields[name]
    prefix = f"{LISTENER_PREFIX}{listener.lower()}."
    for key, value in config.model_extra.items():
        if key.lower().startswith(prefix) and key[len(prefix) :] == field.alias:
            try:
                return field.validate(value)
            except ValueError as error:
                raise ConfigError(f"invalid value {value!r} for {key}: {error}") from None
    return getattr(config, name)


def sasl_jaas_config(config: BrokerConfig, listener: str, mechanism: str) -> str | None:
    """``sasl.jaas.config`` for ``mechanism`` on ``listener``, as Kafka's
    ``JaasContext.loadServerContext`` looks it up: ``listener.name.<l>.<mechanism>.
    sasl.jaas.config``; refka also takes ``listener.name.<l>.sasl.jaas.config`` and the plain
    ``sasl.jaas.config``."""
    prefix = f"{LISTENER_PREFIX}{listener.lower()}."
    for key in (f"{prefix}{mechanism.lower()}.sasl.jaas.config", f"{prefix}sasl.jaas.config"):
        for given, value in config.model_extra.items():
            if given.lower() == key:
                return value.strip()
    return config.sasl_jaas_config


def connection_overrides(value: str) -> dict[str, int]:
    """``max.connections.per.ip.overrides``: ``host:count,...`` as a dict."""
    overrides: dict[str, int] = {}
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        host, colon, count = entry.rpartition(":")
        if not colon or not host or not count.strip().isdigit():
            raise ValueError(f"{entry!r} is not of the form host:count")
        overrides[host.strip().strip("[]")] = int(count)
    return overrides


def _protocol_map(config: BrokerConfig) -> dict[str, str]:
    pairs = (e.partition(":") for e in config.listener_security_protocol_map.split(","))
    return {name.strip().upper(): proto.strip().upper() for name, _, proto in pairs if name}


def broker_listeners(config: BrokerConfig) -> list[tuple[str, str, int]]:
    """The ``(name, host, port)`` listeners a broker binds: those of ``listeners`` not named
    in ``controller.listener.names``; the first one alone when every one is (as before refka
    had several). An empty host binds every interface (``0.0.0.0``), as in Kafka."""
    listeners = _listener_list(config.listeners)
    controllers = _controller_names(config)
    chosen = [lst for lst in listeners if lst[0] not in controllers] or listeners[:1]
    return [(name, host or "0.0.0.0", port) for name, host, port in chosen]


def advertised_listeners(config: BrokerConfig, host_name: str) -> list[tuple[str, str, int]]:
    """The ``(name, host, port)`` endpoints the broker registers with the controller (Kafka's
    ``effectiveAdvertisedBrokerListeners``): ``advertised.listeners``, else ``listeners``,
    without the controller listeners; an empty or wildcard host becomes ``host_name``, this
    machine's host name as the driver looked it up (Kafka uses the canonical host name)."""
    if config.advertised_listeners:
        controllers = _controller_names(config)
        entries = _listener_list(config.advertised_listeners)
        chosen = [lst for lst in entries if lst[0] not in controllers] or entries[:1]
    else:
        chosen = broker_listeners(config)
    return [
        (name, host_name if host in ("", "0.0.0.0", "::") else host, port)
        for name, host, port in chosen
    ]


def inter_broker_listener(config: BrokerConfig) -> str:
    """``inter.broker.listener.name``, else the first broker listener's name."""
    if config.inter_broker_listener_name:
        return config.inter_broker_listener_name.strip().upper()
    return broker_listeners(config)[0][0]


def check_listeners(config: BrokerConfig) -> None:
    """Kafka's checks of the listener configs (``KafkaConfig.validateValues``), for a node
    with the broker role: distinct names, each in ``listener.security.protocol.map`` (a
    controller listener may be missing: it is PLAINTEXT), ``advertised.listeners`` names
    among ``listeners``' and ``inter.broker.listener.name`` among the advertised ones."""
    listeners = _listener_list(config.listeners)
    names = [name for name, _, _ in listeners]
    if len(set(names)) != len(names):
        raise ValueError(f"Each listener must have a different name, listeners: {config.listeners}")
    protocols = _protocol_map(config)
    for name, protocol in protocols.items():
        if protocol not in SECURITY_PROTOCOLS:
            raise ValueError(
                f"unknown security protocol {protocol!r} for listener {name} in "
                f"listener.security.protocol.map (one of {', '.join(SECURITY_PROTOCOLS)})"
            )
    if "broker" not in config.process_roles:
        return
    controllers = _controller_names(config)
    for name in names:
        if name not in protocols and name not in controllers:
            raise ValueError(
                f"Error creating broker listeners from '{config.listeners}': "
                f"No security protocol defined for listener {name}"
            )
    advertised = {name for name, _, _ in advertised_listeners(config, "")}
    if config.advertised_listeners and not advertised <= set(names):
        raise ValueError(
            "advertised.listeners listener names must be equal to or a subset of the ones "
            f"defined in listeners. Found {','.join(sorted(advertised))}. The valid options "
            f"based on the current configuration are {','.join(names)}"
        )
    if config.inter_broker_listener_name and inter_broker_listener(config) not in advertised:
        raise ValueError(
            "inter.broker.listener.name must be a listener name defined in "
            "advertised.listeners. The valid options based on currently configured listeners "
            f"are {','.join(sorted(advertised))}"
        )


def listener_address(config: BrokerConfig) -> tuple[str, int]:
    """The ``(host, port)`` of the broker's first listener (the one clients are told of
    first; :func:`broker_listeners` lists them all)."""
    _, host, port = broker_listeners(config)[0]
    return (host, port)


def advertised_address(config: BrokerConfig, host_name: str) -> tuple[str, int]:
    """The ``(host, port)`` of the first advertised endpoint (:func:`advertised_listeners`)."""
    _, host, port = advertised_listeners(config, host_name)[0]
    return (host, port)


# --- .properties files ------------------------------------------------------------------

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_BLANK = " \t\f"


def parse_properties(text: str) -> dict[str, str]:
    """Parse Java ``.properties`` text (``java.util.Properties.load``) into a dict.

    ``#``/``!`` comment lines, ``=``, ``:`` or whitespace between key and value, a backslash at
    the end of a line continues it (leading blanks of the next line dropped), and the escapes
    ``\\t \\n \\r \\f \\uXXXX`` (any other escaped character stands for itself). Later keys win.
    """
    result: dict[str, str] = {}
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].lstrip(_BLANK)
        i += 1
        if not line or line[0] in "#!":
            continue
        while _continues(line) and i < len(lines):
            line = line[:-1] + lines[i].lstrip(_BLANK)
            i += 1
        if _continues(line):
            line = line[:-1]
        key, value = _split_key_value(line)
        result[_unescape(key)] = _unescape(value)
    return result


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split_key_value(line: str) -> tuple[str, str]:
    i, n = 0, len(line)
    while i < n and line[i] not in "=:" and line[i] not in _BLANK:
        i += 2 if line[i] == "\\" else 1
    key, i = line[: min(i, n)], min(i, n)
    while i < n and line[i] in _BLANK:
        i += 1
    if i < n and line[i] in "=:":
        i += 1
    while i < n and line[i] in _BLANK:
        i += 1
    return key, line[i:]


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = text[i + 1]
        if e == "u":
            digits = text[i + 2 : i + 6]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ConfigError(f"malformed \\uXXXX escape in {text!r}")
            out.append(chr(int(digits, 16)))
            i += 6
        else:
            out.append(_ESCAPES.get(e, e))
            i += 2
    return "".join(out)


# --- loading ----------------------------------------------------------------------------


def load_config(path: str | None, overrides: list[str]) -> tuple[BrokerConfig, list[str]]:
    """Read ``path`` (a ``server.properties``, optional) then apply ``key=value`` overrides.

    Returns the config and warnings (unknown keys). Raises
    :class:`ConfigError` naming the key on a bad value, a missing file or a malformed override.
    """
    raw: dict[str, str] = {}
    if path is not None:
        raw.update(parse_properties(_read_text(path)))
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {override!r}")
        raw[key.strip()] = value.strip()
    warnings = [_unknown_key_warning(k) for k in raw if not _known(k)]
    known = {k: v.strip() for k, v in raw.items() if _known(k)}  # Kafka trims values
    derived = _derive(known, warnings)
    return BrokerConfig.model_validate(derived), warnings


def _known(key: str) -> bool:
    return key in KNOWN_KEYS or key.startswith(LISTENER_PREFIX)


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # java.util.Properties.load(InputStream)'s encoding


def _unknown_key_warning(key: str) -> str:
    import difflib

    message = f"unknown config key {key!r} ignored (not a Kafka broker config refka knows)"
    close = difflib.get_close_matches(key, sorted(KNOWN_KEYS), n=1)
    return message + (f"; did you mean {close[0]!r}?" if close else "")


def controller_listener(config: BrokerConfig) -> tuple[str, int] | None:
    """The ``(host, port)`` of the controller listener, if ``listeners`` names one."""
    names = {
        n.strip().upper() for n in (config.controller_listener_names or "CONTROLLER").split(",")
    }
    for name, host, port in _listener_list(config.listeners):
        if name in names:
            return (host or "0.0.0.0", port)
    return None


def controller_listener_name(config: BrokerConfig) -> str:
    """The name of the controller listener a node binds (the first of ``listeners`` named in
    ``controller.listener.names``), else the first of ``controller.listener.names``."""
    names = _controller_names(config)
    for name, _, _ in _listener_list(config.listeners):
        if name in names:
            return name
    first = (config.controller_listener_names or "CONTROLLER").split(",")[0]
    return first.strip().upper()


def roles(config: BrokerConfig) -> frozenset[str]:
    """``process.roles`` as a set: ``broker``, ``controller`` or both."""
    found = frozenset(r.strip() for r in config.process_roles.split(",") if r.strip())
    unknown = found - {"broker", "controller"}
    if unknown or not found:
        raise ValueError(f"process.roles {config.process_roles!r}: use broker, controller or both")
    return found


def quorum_voter(config: BrokerConfig) -> tuple[int, str, int] | None:
    """The (first) voter of ``controller.quorum.voters`` as ``(node_id, host, port)``, else the
    first of ``controller.quorum.bootstrap.servers`` (node id unknown: -1), else None."""
    voters = config.controller_quorum_voters.strip()
    if voters:
        entry = voters.split(",")[0].strip()
        node, _, address = entry.partition("@")
        host, _, port = address.rpartition(":")
        return int(node), host.strip("[]"), int(port)
    bootstrap = config.controller_quorum_bootstrap_servers.strip()
    if bootstrap:
        host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
        return -1, host.strip("[]"), int(port)
    return None
