"""DescribeClientQuotas and AlterClientQuotas (KIP-546): quotas set, listed, removed; Kafka's
validation errors and messages; filters. Entities are unique per run (the quotas live in the
cluster metadata); the one default entity set is removed again."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target, eventually

EXACT, DEFAULT, SPECIFIED = 0, 1, 2
Listed = dict[tuple[tuple[str, str | None], ...], dict[str, float]]


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def entity(*parts: tuple[str, str | None]) -> list[dict[str, Any]]:
    return [{"entity_type": t, "entity_name": n} for t, n in parts]


def op(key: str, value: float = 0.0, remove: bool = False) -> dict[str, Any]:
    return {"key": key, "value": value, "remove": remove}


def alter(target: Target, *entries: tuple[list[dict[str, Any]], list[dict[str, Any]]],
          validate_only: bool = False) -> list[Any]:  # fmt: skip
    body = [{"entity": e, "ops": ops} for e, ops in entries]
    answer = target.call("AlterClientQuotas", 0, None, entries=body, validate_only=validate_only)
    return list(answer.entries)


def describe(target: Target, *components: tuple[str, int, str | None], strict: bool = False) -> Any:
    filters = [{"entity_type": t, "match_type": m, "match": n} for t, m, n in components]
    return target.call("DescribeClientQuotas", 0, None, components=filters, strict=strict)


def listed(answer: Any) -> Listed:
    assert answer.error_code == ErrorCode.none, answer.error_message
    return {
        tuple((e.entity_type, e.entity_name) for e in entry.entity): {
            v.key: v.value for v in entry.values
        }
        for entry in answer.entries
    }


@pytest.mark.api("AlterClientQuotas", behaviour="sets quotas that DescribeClientQuotas lists")
def test_set_then_describe(target: Target) -> None:
    user, client = name("user"), name("client")
    [result] = alter(
        target,
        (entity(("user", user), ("client-id", client)),
         [op("producer_byte_rate", 1024), op("request_percentage", 12.5)]),
    )  # fmt: skip
    assert (result.error_code, result.error_message) == (ErrorCode.none, None)
    assert [(e.entity_type, e.entity_name) for e in result.entity] == [
        ("client-id", client),
        ("user", user),
    ]
    key = (("client-id", client), ("user", user))
    want = {key: {"request_percentage": 12.5, "producer_byte_rate": 1024.0}}
    assert eventually(lambda: listed(describe(target, ("user", EXACT, user))) == want)
    answer = describe(target, ("user", EXACT, user))
    assert answer.error_message == ""  # not null
    assert [v.key for v in answer.entries[0].values] == ["request_percentage", "producer_byte_rate"]
    assert listed(describe(target, ("user", EXACT, user), strict=True)) == {}
    both = describe(target, ("user", EXACT, user), ("client-id", SPECIFIED, None), strict=True)
    assert listed(both) == want


@pytest.mark.api(
    "AlterClientQuotas", behaviour="remove takes a key away; an entity with none left is gone"
)
def test_remove(target: Target) -> None:
    client = name("client")
    alter(target, (entity(("client-id", client)), [op("consumer_byte_rate", 4096)]))
    assert eventually(lambda: listed(describe(target, ("client-id", EXACT, client))))
    [result] = alter(
        target, (entity(("client-id", client)), [op("consumer_byte_rate", remove=True)])
    )
    assert result.error_code == ErrorCode.none
    assert eventually(lambda: listed(describe(target, ("client-id", EXACT, client))) == {})


@pytest.mark.api("AlterClientQuotas", behaviour="validate_only changes nothing")
def test_validate_only(target: Target) -> None:
    client = name("client")
    [result] = alter(
        target, (entity(("client-id", client)), [op("producer_byte_rate", 10)]), validate_only=True
    )
    assert result.error_code == ErrorCode.none
    bad = alter(target, (entity(("client-id", client)), [op("producer_byte_rate", 1.5)]),
                validate_only=True)  # fmt: skip
    assert bad[0].error_code == ErrorCode.invalid_request
    time.sleep(0.3)  # a change would reach the brokers by now; none may
    assert listed(describe(target, ("client-id", EXACT, client))) == {}


@pytest.mark.api("AlterClientQuotas", behaviour="default entities (a null name)")
def test_default_entity(target: Target) -> None:
    default = entity(("client-id", None))
    [result] = alter(target, (default, [op("controller_mutation_rate", 1e9)]))
    try:
        assert result.error_code == ErrorCode.none
        key = (("client-id", None),)
        assert eventually(
            lambda: (
                listed(describe(target, ("client-id", DEFAULT, None))).get(key)
                == {"controller_mutation_rate": 1e9}
            )
        )
    finally:
        alter(target, (default, [op("controller_mutation_rate", remove=True)]))


REFUSED = [
    ([], [op("producer_byte_rate", 100)], "Invalid empty client quota entity"),
    ([("ip", "not-an-ip!")], [op("connection_creation_rate", 10)],
     "not-an-ip! is not a valid IP or resolvable host."),
    ([("group", "g")], [op("producer_byte_rate", 100)],
     "Unhandled client quota entity type: group"),
    ([("user", "")], [op("producer_byte_rate", 100)], "Empty user not supported"),
    ([("ip", "10.0.0.1"), ("user", "u")], [op("connection_creation_rate", 10)],
     "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId"),
    ([("user", "u")], [op("foo", 100)], "Invalid configuration key foo"),
    ([("user", "u")], [op("producer_byte_rate", 0)],
     "Quota producer_byte_rate must be greater than 0"),
    ([("user", "u")], [op("request_percentage", -1)],
     "Quota request_percentage must be greater than 0"),
    ([("user", "u")], [op("producer_byte_rate", 1.5)],
     "producer_byte_rate cannot be a fractional value."),
    ([("user", "u")], [op("producer_byte_rate", 1e30)],
     "Proposed value for producer_byte_rate is too large for a LONG."),
    ([("ip", "10.0.0.1")], [op("connection_creation_rate", 1e12)],
     "Proposed value for connection_creation_rate is too large for an INT."),
    ([("ip", "10.0.0.1")], [op("producer_byte_rate", 10)],
     "Invalid configuration key producer_byte_rate"),
    ([("user", "u")], [op("connection_creation_rate", 10)],
     "Invalid configuration key connection_creation_rate"),
    ([("user", "u")], [op("producer_byte_rate", 10), op("producer_byte_rate", 20)],
     "Ignoring duplicate entity ClientQuotaEntity(entries={user=u})"),
]  # fmt: skip


@pytest.mark.api("AlterClientQuotas", behaviour="invalid entities and values: Kafka's errors")
@pytest.mark.parametrize(("parts", "ops", "message"), REFUSED, ids=[m for _, _, m in REFUSED])
def test_refused(target: Target, parts: list[Any], ops: list[Any], message: str) -> None:
    [result] = alter(target, (entity(*parts), ops))
    assert (result.error_code, result.error_message) == (ErrorCode.invalid_request, message)


@pytest.mark.api("AlterClientQuotas", behaviour="an entity named twice: the second is ignored")
def test_duplicate_entity(target: Target) -> None:
    user = name("user")
    results = alter(
        target,
        (entity(("user", user)), [op("producer_byte_rate", 10)]),
        (entity(("user", user)), [op("producer_byte_rate", 20)]),
    )
    assert [(r.error_code, r.error_message) for r in results] == [
        (
            ErrorCode.invalid_request,
            f"Ignoring duplicate entity ClientQuotaEntity(entries={{user={user}}})",
        )
    ]
    key = (("user", user),)
    assert eventually(
        lambda: (
            listed(describe(target, ("user", EXACT, user))) == {key: {"producer_byte_rate": 10.0}}
        )
    )


BAD_FILTERS = [
    (("", EXACT, "a"), ErrorCode.invalid_request, "Invalid empty entity type."),
    (("foo", EXACT, "a"), ErrorCode.unsupported_version, "Unsupported entity type foo"),
    (("user", EXACT, None), ErrorCode.invalid_request,
     "Request specified MATCH_TYPE_EXACT, but set match string to null."),
    (("user", DEFAULT, "x"), ErrorCode.invalid_request,
     "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."),
    (("user", SPECIFIED, "x"), ErrorCode.invalid_request,
     "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."),
    (("user", 7, None), ErrorCode.invalid_request, "Unknown match type 7"),
]  # fmt: skip


@pytest.mark.api("DescribeClientQuotas", behaviour="invalid filters: Kafka's errors, no entries")
@pytest.mark.parametrize(
    ("component", "code", "message"), BAD_FILTERS, ids=[m for *_, m in BAD_FILTERS]
)
def test_bad_filter(target: Target, component: Any, code: ErrorCode, message: str) -> None:
    answer = describe(target, component)
    assert (answer.error_code, answer.error_message, answer.entries) == (code, message, None)


@pytest.mark.api("DescribeClientQuotas", behaviour="a filter component twice; ip with user")
def test_bad_combinations(target: Target) -> None:
    twice = describe(target, ("user", SPECIFIED, None), ("user", SPECIFIED, None))
    assert twice.error_message == "Entity type user cannot appear more than once in the filter."
    mixed = describe(target, ("ip", SPECIFIED, None), ("user", SPECIFIED, None))
    assert mixed.error_code == ErrorCode.invalid_request
    assert mixed.error_message == (
        "Invalid entity filter component combination. IP filter component should not be used "
        "with user or clientId filter component."
    )
