"""``meta.properties``: which cluster and node a log directory belongs to (KIP-631, KIP-858).

Kafka writes it when a directory is formatted (``kafka-storage format``) and refuses to start
on a directory of another cluster or node. refka formats a combined node's directory itself on
first start, and ``refka cluster`` formats every node's directory with one cluster id. A data
directory of refka before the metadata log (``refka-metadata.json``) is refused with a message.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from refka.core.seeded import SeededRandom
from refka.log.storage import Storage, write_atomically

META_PROPERTIES = "meta.properties"
OLD_METADATA_FILE = "refka-metadata.json"


class MetaPropertiesError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class MetaProperties:
    """The identity in a log directory's ``meta.properties``: cluster, node, directory."""

    cluster_id: str
    node_id: int
    directory_id: str

    @staticmethod
    def read(storage: Storage) -> MetaProperties | None:
        """The directory's ``meta.properties``, or None when it was never formatted."""
        if storage.exists(OLD_METADATA_FILE):
            raise MetaPropertiesError(
                f"{OLD_METADATA_FILE} found: this directory was written by a refka without the "
                "metadata log; its topics cannot be carried over. Start with an empty log.dirs."
            )
        if not storage.exists(META_PROPERTIES):
            return None
        text = storage.read(META_PROPERTIES, 0, storage.size(META_PROPERTIES)).decode()
        values = dict(
            (k.strip(), v.strip())
            for k, _, v in (line.partition("=") for line in text.splitlines())
            if not k.startswith("#") and _
        )
        try:
            return MetaProperties(
                values["cluster.id"], int(values["node.id"]), values.get("directory.id", "")
            )
        except (KeyError, ValueError) as error:
            raise MetaPropertiesError(f"{META_PROPERTIES} is incomplete: {error}") from None

    def write(self, storage: Storage) -> None:
        text = (
            "#refka\nversion=1\n"
            f"cluster.id={self.cluster_id}\nnode.id={self.node_id}\n"
            f"directory.id={self.directory_id}\n"
        )
        write_atomically(storage, META_PROPERTIES, text.encode())


def format_directory(
    storage: Storage, node_id: int, random: SeededRandom, cluster_id: str | None = None
) -> MetaProperties:
    """The directory's identity, formatting it first when it has none (``kafka-storage format``).

    A directory that belongs to another node is refused, as Kafka refuses it."""
    existing = MetaProperties.read(storage)
    if existing is not None:
        if existing.node_id != node_id:
            raise MetaPropertiesError(
                f"{META_PROPERTIES} says node.id {existing.node_id}, but node.id is {node_id}"
            )
        return existing
    meta = MetaProperties(cluster_id or new_uuid(random), node_id, new_uuid(random))
    meta.write(storage)
    return meta


def new_uuid(random: SeededRandom) -> str:
    """16 random bytes, base64url without padding: Kafka's ``Uuid`` as text. As Kafka's
    ``Uuid.randomUuid``, never one that starts with "-": a command line would read it as an
    option (``kafka-storage format -t -Xy...``)."""
    while True:
        text = base64.urlsafe_b64encode(random.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text
