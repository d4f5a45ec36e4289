"""``kafka-storage format --add-scram`` (KIP-900): SCRAM users that exist from the cluster's
first start, so that a first admin can authenticate before anyone ran
AlterUserScramCredentials.

The argument is Kafka's: ``SCRAM-SHA-256=[name=alice,password=alice-secret]``, with optional
``iterations=8192`` (default 4096), ``salt=<base64>`` (default: random) or
``saltedpassword=<base64>`` in place of the password; values may be double-quoted. Each becomes
a ``UserScramCredentialRecord``. ``refka storage format`` writes them to ``bootstrap.records``
in the metadata log directory (refka's format: each record as a 4-byte big-endian length and
its ``MetadataRecordSerde`` frame); the controller commits them when it starts on an empty
metadata log, as Kafka's controller appends its ``bootstrap.checkpoint``.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any

BOOTSTRAP_FILE = "bootstrap.records"


def parse_add_scram(argument: str, random_salt: Callable[[], bytes]) -> Any:
    """The ``UserScramCredentialRecord`` of one ``--add-scram`` argument."""
    from refka.metadata.scram_records import UserScramCredentialRecord
    from refka.security.scram import (
        MAX_ITERATIONS,
        MIN_ITERATIONS,
        ScramMechanism,
        make_credential,
        salted_password,
    )

    name, sep, body = argument.partition("=")
    mechanism = ScramMechanism.from_name(name.strip())
    if mechanism is None:
        raise ValueError(f"The add-scram mechanism {name.strip()} is not supported.")
    body = body.strip()
    if not sep or not body.startswith("[") or not body.endswith("]"):
        raise ValueError(f"Expected configuration string of form MECHANISM=[...]: {argument}")
    options = _options(body[1:-1])
    user = options.get("name")
    if not user:
        raise ValueError(f"You must supply 'name' to add-scram: {argument}")
    iterations = int(options.get("iterations", MIN_ITERATIONS))
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"The 'iterations' value must be >= {MIN_ITERATIONS} and <= 16384")
    salt = base64.b64decode(options["salt"]) if "salt" in options else random_salt()
    if "saltedpassword" in options:
        salted = base64.b64decode(options["saltedpassword"])
    elif "password" in options:
        salted = salted_password(mechanism, options["password"], salt, iterations)
    else:
        raise ValueError(f"You must supply one of 'password' or 'saltedpassword': {argument}")
    credential = make_credential(mechanism, salted, salt, iterations)
    return UserScramCredentialRecord(
        name=user,
        mechanism=int(mechanism),
        salt=credential.salt,
        stored_key=credential.stored_key,
        server_key=credential.server_key,
        iterations=iterations,
    )


def _options(text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"Expected key=value in add-scram, got {part!r}")
        options[key.strip().lower()] = value.strip().strip('"')
    return options


def encode_bootstrap(records: list[Any]) -> bytes:
    from refka.metadata.records import encode_record

    frames = [encode_record(record) for record in records]
    return b"".join(struct.pack(">I", len(frame)) + frame for frame in frames)


def decode_bootstrap(data: bytes) -> list[Any]:
    from refka.metadata.records import decode_record

    records, position = [], 0
    while position < len(data):
        (size,) = struct.unpack_from(">I", data, position)
        records.append(decode_record(data[position + 4 : position + 4 + size]))
        position += 4 + size
    return records
