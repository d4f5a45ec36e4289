"""``refka.config_model``: the typed frozen model ``BrokerConfig`` is built on, with pydantic's
lax coercions and wording (the model replaced a pydantic one; values and errors stay the same)."""

from __future__ import annotations

from typing import Literal

import pytest
from refka.config_model import ConfigError, ConfigModel, setting


class Example(ConfigModel):
    port: int = setting(9092, "A port.", ge=1, le=65535)
    ratio: float = setting(0.5, "A ratio.", ge=0, le=1)
    enabled: bool = setting(True, "A switch.")
    name: str = setting("x", "A name.", min_length=1, pattern=r"^[a-z]+$")
    rack: str | None = setting(None, "An optional string.")
    kind: Literal["CreateTime", "LogAppendTime"] = setting("CreateTime", "A choice.")
    limit: int | None = setting(None, "An optional int.")

    def _after(self) -> None:
        if self.limit is not None and self.limit < self.port:
            raise ValueError("limit must not be below port")


def test_fields_carry_kafka_keys_docs_and_defaults() -> None:
    field = Example.model_fields["port"]
    assert (field.name, field.alias, field.default, field.description) == (
        "port",
        "port",
        9092,
        "A port.",
    )
    names = ["port", "ratio", "enabled", "name", "rack", "kind", "limit"]
    assert list(Example.model_fields) == names
    assert Example() == Example.model_validate({}) and Example().model_fields_set == frozenset()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3), (" 4 ", 4), ("+5", 5), ("1_000", 1000), ("6.0", 6), (7, 7), (8.0, 8)],
)
def test_ints_are_read_as_pydantic_reads_them(value: object, expected: int) -> None:
    assert Example.model_validate({"port": value}).port == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("OFF", False), ("yes", True), ("0", False), (1, True), (False, False)],
)
def test_bools_are_read_as_pydantic_reads_them(value: object, expected: bool) -> None:
    assert Example.model_validate({"enabled": value}).enabled is expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"port": "6.5"}, "port: Input should be a valid integer"),
        ({"port": "0"}, "port: Input should be greater than or equal to 1"),
        ({"port": 70000}, "port: Input should be less than or equal to 65535"),
        ({"ratio": "abc"}, "ratio: Input should be a valid number"),
        ({"enabled": "2"}, "enabled: Input should be a valid boolean"),
        ({"name": ""}, "name: String should have at least 1 character"),
        ({"name": "A1"}, "name: String should match pattern"),
        ({"name": 3}, "name: Input should be a valid string"),
        ({"kind": "Wall"}, "kind: Input should be 'CreateTime' or 'LogAppendTime'"),
        ({"limit": "1", "port": "5"}, "invalid config: limit must not be below port"),
    ],
)
def test_a_bad_value_names_its_key_in_pydantics_words(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Example.model_validate(values)


def test_every_bad_key_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        Example.model_validate({"port": "x", "ratio": "2"})
    assert "for port:" in str(error.value) and "for ratio:" in str(error.value)


def test_none_only_where_the_type_allows_it() -> None:
    assert Example.model_validate({"rack": None, "limit": None}).rack is None
    with pytest.raises(ConfigError, match="port"):
        Example.model_validate({"port": None})


def test_frozen_hashable_and_copied_with_updates() -> None:
    config = Example.model_validate({"port": "10"})
    with pytest.raises(ValueError, match="frozen"):
        config.port = 11  # type: ignore[misc]
    copy = config.model_copy(update={"rack": "r1"})
    assert (copy.port, copy.rack, config.rack) == (10, "r1", None)
    assert copy.model_fields_set == {"port", "rack"} and config.model_fields_set == {"port"}
    assert copy != config and hash(Example()) == hash(Example())
    assert repr(config).startswith("Example(port=10, ratio=0.5")
