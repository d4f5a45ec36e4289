"""Kafka's ``sasl.jaas.config`` syntax (``org.apache.kafka.common.security.JaasConfig``).

One login module entry: ``<LoginModuleClass> <flag> [key=value ...];`` where the flag is
``required``, ``requisite``, ``sufficient`` or ``optional`` and a value is a double-quoted
string (``\\"`` escapes a quote) or a bare word. Kafka's broker takes exactly one entry per
``sasl.jaas.config``; a malformed one is refused with Kafka's wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FLAGS = frozenset({"required", "requisite", "sufficient", "optional"})


class JaasError(ValueError):
    """A ``sasl.jaas.config`` Kafka would refuse."""


@dataclass(frozen=True, slots=True)
class JaasEntry:
    """One login module: its class, control flag and options."""

    login_module: str
    flag: str
    options: dict[str, str] = field(default_factory=dict)


def parse_jaas_config(text: str) -> JaasEntry:
    """The single login module entry of ``text``."""
    tokens = _tokens(text)
    if not tokens:
        raise JaasError("JAAS config property does not contain any login modules")
    if tokens[-1] != ";":
        raise JaasError("JAAS config entry not terminated by semi-colon")
    entries = _split_entries(tokens)
    if len(entries) != 1:
        count = len(entries)
        raise JaasError(f"JAAS config property contains {count} login modules, should be 1 module")
    return _entry(entries[0])


def _split_entries(tokens: list[str]) -> list[list[str]]:
    entries: list[list[str]] = [[]]
    for token in tokens:
        if token == ";":
            entries.append([])
        else:
            entries[-1].append(token)
    return [entry for entry in entries if entry]


def _entry(tokens: list[str]) -> JaasEntry:
    if len(tokens) < 2 or tokens[0] in ("=", ";"):
        raise JaasError("Login module not specified in JAAS config")
    module, flag = tokens[0], tokens[1].lower()
    if flag not in FLAGS:
        raise JaasError(f"Invalid login module control flag '{tokens[1]}' in JAAS config")
    options: dict[str, str] = {}
    rest = tokens[2:]
    while rest:
        if len(rest) < 3 or rest[1] != "=":
            raise JaasError(f"Value not specified for key '{rest[0]}' in JAAS config")
        options[rest[0]] = rest[2]
        rest = rest[3:]
    return JaasEntry(module, flag, options)


def _tokens(text: str) -> list[str]:
    """Words, quoted strings (unquoted), ``=`` and ``;``."""
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "=;":
            tokens.append(c)
            i += 1
        elif c == '"':
            i, value = _quoted(text, i + 1)
            tokens.append(value)
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '=;"':
                i += 1
            tokens.append(text[start:i])
    return tokens


def _quoted(text: str, i: int) -> tuple[int, str]:
    out: list[str] = []
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif c == '"':
            return i + 1, "".join(out)
        else:
            out.append(c)
            i += 1
    raise JaasError("Unterminated quoted string in JAAS config")
