"""``refka storage``: Kafka's ``kafka-storage`` for refka's log directories (KIP-631).

    refka storage random-uuid
    refka storage format --cluster-id ID --config server.properties [--set node.id=2 ...]
        [--add-scram 'SCRAM-SHA-256=[name=admin,password=admin-secret]' ...]

A node's log directory (and its ``metadata.log.dir``) must carry ``meta.properties`` with the
cluster id before a broker-only node starts; a combined node formats itself, and ``refka
cluster`` formats every node. Formatting an already formatted directory of the same cluster and
node does nothing; one of another cluster is refused.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from refka.log.storage import FileStorage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("random-uuid", help="print a new cluster id")
    fmt = sub.add_parser("format", help="write meta.properties into the node's log directories")
    fmt.add_argument("--cluster-id", "-t", required=True, help="the cluster id (random-uuid)")
    fmt.add_argument("--config", "-c", metavar="FILE", help="a server.properties file")
    fmt.add_argument("--set", metavar="KEY=VALUE", action="append", default=[])
    fmt.add_argument(
        "--add-scram",
        "-S",
        metavar="SCRAM",
        action="append",
        default=[],
        help="a SCRAM user of the new cluster, e.g. 'SCRAM-SHA-256=[name=alice,password=secret]'",
    )


def run(args: argparse.Namespace) -> int:
    from refka.broker.meta_properties import MetaPropertiesError, format_directory, new_uuid
    from refka.core.seeded import SeededRandom

    random = SeededRandom(int.from_bytes(os.urandom(8), "big"))
    if args.action == "random-uuid":
        print(new_uuid(random))
        return 0
    from refka.config import ConfigError, load_config
    from refka.log.storage import FileStorage

    try:
        config, _ = load_config(args.config, list(args.set))
        directories = [
            *config.log_dir_paths,
            *([config.metadata_log_dir] if config.metadata_log_dir else []),
        ]
        for directory in directories:
            meta = format_directory(FileStorage(directory), config.node_id, random, args.cluster_id)
            if meta.cluster_id != args.cluster_id:
                raise MetaPropertiesError(
                    f"{directory} belongs to cluster {meta.cluster_id}, not {args.cluster_id}"
                )
            print(f"Formatted {directory} (cluster {meta.cluster_id}, node {meta.node_id})")
        if args.add_scram:
            _write_scram_bootstrap(
                FileStorage(config.metadata_log_dir or config.first_log_dir), args.add_scram
            )
    except (ConfigError, MetaPropertiesError, OSError, ValueError) as error:
        print(f"refka storage: {error}", file=sys.stderr)
        return 1
    return 0


def _write_scram_bootstrap(storage: FileStorage, arguments: list[str]) -> None:
    """``--add-scram``: the users' records in ``bootstrap.records`` (``scram_bootstrap``)."""
    from refka.security.scram_bootstrap import BOOTSTRAP_FILE, encode_bootstrap, parse_add_scram

    records = [parse_add_scram(argument, lambda: os.urandom(32)) for argument in arguments]
    if storage.exists(BOOTSTRAP_FILE):
        storage.delete(BOOTSTRAP_FILE)
    storage.open(BOOTSTRAP_FILE)
    storage.append(BOOTSTRAP_FILE, encode_bootstrap(records))
    storage.fsync(BOOTSTRAP_FILE)
    storage.close(BOOTSTRAP_FILE)
    print(f"Added {len(records)} SCRAM credential(s) to {BOOTSTRAP_FILE}")
