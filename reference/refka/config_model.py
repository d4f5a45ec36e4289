"""A typed, frozen settings model: each field a Kafka key with its type, default, documentation
and constraints, validated from ``.properties`` strings or Python values.

:class:`ConfigModel` is what ``BrokerConfig`` is built on. It keeps the part of pydantic's model
interface refka uses (``model_validate``, ``model_fields`` with ``alias``/``description``/
``default``, ``model_fields_set``, ``model_copy``) and pydantic's lax coercions (``"3"`` is an
int, ``"true"``/``"off"`` are bools), without importing a schema library: building the model
takes well under a millisecond, which matters for the broker's start (issue 15).

A field is a class annotation (``int``, ``float``, ``bool``, ``str``, ``X | None`` or a
``Literal[...]`` of strings) whose value is :func:`setting`. Defaults are not validated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar


class ConfigError(ValueError):
    """A configuration value Kafka would reject; the message names the key."""


class ConfigField:
    """One field: Kafka's key (``alias``), type, default, documentation and constraints."""

    __slots__ = (
        "alias",
        "annotation",
        "convert",
        "default",
        "description",
        "ge",
        "le",
        "min_length",
        "name",
        "pattern",
    )

    def __init__(self, default: Any, description: str, **constraints: Any) -> None:
        self.default, self.description = default, description
        self.ge: float | None = constraints.pop("ge", None)
        self.le: float | None = constraints.pop("le", None)
        self.min_length: int | None = constraints.pop("min_length", None)
        self.pattern: str | None = constraints.pop("pattern", None)
        if constraints:
            raise TypeError(f"unknown constraints {sorted(constraints)}")
        self.name = self.alias = self.annotation = ""
        self.convert: Callable[[Any], Any] = _identity

    def bind(self, name: str, annotation: str) -> None:
        self.name, self.alias, self.annotation = name, name.replace("_", "."), annotation
        self.convert = _converter(annotation)

    def validate(self, value: Any) -> Any:
        """The value converted to the field's type; ValueError with pydantic's wording."""
        value = self.convert(value)
        if value is None:
            return value
        if self.ge is not None and value < self.ge:
            raise ValueError(f"Input should be greater than or equal to {self.ge}")
        if self.le is not None and value > self.le:
            raise ValueError(f"Input should be less than or equal to {self.le}")
        if self.min_length is not None and len(value) < self.min_length:
            plural = "" if self.min_length == 1 else "s"
            raise ValueError(f"String should have at least {self.min_length} character{plural}")
        if self.pattern is not None and re.search(self.pattern, value) is None:
            raise ValueError(f"String should match pattern '{self.pattern}'")
        return value

    def __repr__(self) -> str:
        return f"ConfigField({self.alias!r}, {self.annotation}, default={self.default!r})"


def setting(default: Any, description: str, **constraints: Any) -> Any:
    """A field's default, documentation and constraints (``ge``, ``le``, ``min_length``,
    ``pattern``); typed ``Any`` so that ``port: int = setting(9092, "...")`` checks."""
    return ConfigField(default, description, **constraints)


class ConfigModel:
    """Base of a frozen settings model; subclasses declare fields with :func:`setting`."""

    model_fields: ClassVar[dict[str, ConfigField]] = {}
    model_fields_set: frozenset[str]
    PREFIXES: ClassVar[tuple[str, ...]] = ()
    """Key prefixes kept as given in ``model_extra`` (Kafka's ``listener.name.<name>.*``)."""
    model_extra: dict[str, str]

    def __init_subclass__(cls) -> None:
        fields = dict(cls.model_fields)
        for name, annotation in vars(cls).get("__annotations__", {}).items():
            declared = vars(cls).get(name)
            if isinstance(declared, ConfigField):
                declared.bind(name, annotation)
                fields[name] = declared
                delattr(cls, name)  # instances hold the values
        cls.model_fields = fields

    def __init__(self, **data: Any) -> None:
        values = self._before(data)
        errors: list[str] = []
        given = set()
        for name, field in self.model_fields.items():
            key = field.alias if field.alias in values else name
            if key not in values:
                object.__setattr__(self, name, field.default)
                continue
            given.add(name)
            try:
                object.__setattr__(self, name, self._field_check(name, field.validate(values[key])))
            except ValueError as error:
                errors.append(f"invalid value {values[key]!r} for {field.alias}: {error}")
        object.__setattr__(self, "model_fields_set", frozenset(given))
        prefixes = self.PREFIXES
        extra = {k: str(v) for k, v in values.items() if prefixes and k.startswith(prefixes)}
        object.__setattr__(self, "model_extra", extra)
        if not errors:
            try:
                self._after()
            except ValueError as error:
                errors.append(f"invalid config: {error}")
        if errors:
            raise ConfigError("; ".join(errors))

    @classmethod
    def model_validate(cls, data: dict[str, Any]) -> Any:
        """The model of ``data`` (Kafka's keys or attribute names); ConfigError naming each bad
        key. Unknown keys are ignored."""
        return cls(**data)

    def _before(self, data: dict[str, Any]) -> dict[str, Any]:
        """The raw values before the fields are validated (override to derive keys)."""
        return data

    def _field_check(self, name: str, value: Any) -> Any:
        """A field's further check after its type conversion (override per field name)."""
        return value

    def _after(self) -> None:
        """Checks across fields, once every field is valid (override; raise ValueError)."""

    def model_copy(self, update: dict[str, Any] | None = None) -> Any:
        """A copy with ``update`` (attribute names) applied, not validated, as pydantic's."""
        copy = object.__new__(type(self))
        for name in self.model_fields:
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "model_extra", dict(self.model_extra))
        for name, value in (update or {}).items():
            object.__setattr__(copy, name, value)
        object.__setattr__(copy, "model_fields_set", self.model_fields_set | set(update or {}))
        return copy

    def _values(self) -> tuple[Any, ...]:
        fields = tuple(getattr(self, name) for name in self.model_fields)
        return (*fields, tuple(sorted(self.model_extra.items())))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise ConfigError(f"{type(self).__name__} is frozen: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise ConfigError(f"{type(self).__name__} is frozen: cannot delete {name}")

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.model_fields)
        return f"{type(self).__name__}({shown})"


# --- conversions: pydantic's lax mode for the types a settings model uses ------------------

_FLOAT = re.compile(r"\s*[+-]?\d+\.\d*\s*")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _identity(value: Any) -> Any:
    return value


def _to_int(value: Any) -> int:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)  # as pydantic: blanks around, "_" between digits
        except ValueError:
            number = _to_float(value) if _FLOAT.fullmatch(value) else None
            if number is not None and number.is_integer():
                return int(number)  # "3.0", as pydantic
    raise ValueError("Input should be a valid integer, unable to parse string as an integer")


def _to_float(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError("Input should be a valid number, unable to parse string as a number")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("Input should be a valid boolean, unable to interpret input")


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError("Input should be a valid string")


_SIMPLE: dict[str, Callable[[Any], Any]] = {
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "str": _to_str,
}


def _converter(annotation: str) -> Callable[[Any], Any]:
    """The conversion for a field's annotation (its source text: the module uses
    ``from __future__ import annotations``)."""
    text = annotation.replace(" ", "")
    if text.endswith("|None"):
        inner = _converter(text.removesuffix("|None"))
        return lambda value: None if value is None else inner(value)
    if text in _SIMPLE:
        return _SIMPLE[text]
    if text.startswith("Literal[") and text.endswith("]"):
        choices = tuple(c.strip("'\"") for c in text[len("Literal[") : -1].split(","))
        return _literal(choices)
    raise TypeError(f"no conversion for the annotation {annotation!r}")


def _literal(choices: tuple[str, ...]) -> Callable[[Any], Any]:
    expected = " or ".join(f"'{c}'" for c in choices)

    def check(value: Any) -> Any:
        if value not in choices:
            raise ValueError(f"Input should be {expected}")
        return value

    return check
