"""``ssl.principal.mapping.rules``: the name of an SSL client's principal from its certificate.

Kafka's ``SslPrincipalMapper`` (KIP-371). The value is a comma-separated list of rules tried
in order; the first that applies gives the name (the principal is then ``User:<name>``):

- ``RULE:pattern/replacement/`` applies when the regular expression ``pattern`` matches the
  whole distinguished name (RFC 2253, as ``X500Principal.getName()`` writes it); the name is
  the DN with ``pattern`` replaced by ``replacement`` (``$1`` refers to a group). A trailing
  ``L`` or ``U`` (``RULE:pattern/replacement/L``) lower- or upper-cases the result;
- ``DEFAULT`` gives the distinguished name unchanged (the default list is ``DEFAULT`` alone).

A name no rule applies to is an error (:class:`NoMatchingRule`): Kafka fails the
authentication and closes the connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RULE = r"(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?).*?|(.*?)"
_SPLITTER = re.compile(r"\s*(" + _RULE + r")\s*(?:,\s*|$)")
_PARSER = re.compile(_RULE)
_GROUP_REF = re.compile(r"\$(\d+)")


class NoMatchingRule(ValueError):
    """No rule of ``ssl.principal.mapping.rules`` applies to a distinguished name."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: ``pattern`` None is ``DEFAULT``."""

    pattern: re.Pattern[str] | None = None
    replacement: str = ""
    case: str = ""  # "L", "U" or "" (as is)

    def apply(self, distinguished_name: str) -> str | None:
        """The mapped name, or None if this rule does not apply."""
        if self.pattern is None:
            return distinguished_name
        if self.pattern.fullmatch(distinguished_name) is None:
            return None
        name = self.pattern.sub(self.replacement, distinguished_name)
        if self.case == "L":
            return name.lower()
        return name.upper() if self.case == "U" else name


def parse_rules(text: str) -> tuple[Rule, ...]:
    """The rules of an ``ssl.principal.mapping.rules`` value; ValueError on a malformed one."""
    rules: list[Rule] = []
    for match in _SPLITTER.finditer(text.strip()):
        rule = match.group(1)
        if not rule:
            continue
        parsed = _PARSER.fullmatch(rule)
        if parsed is None or parsed.group(5):
            raise ValueError(f"Invalid rule: {rule}")
        if parsed.group(1):
            rules.append(Rule())
            continue
        try:
            pattern = re.compile(parsed.group(2))
        except re.error as error:
            raise ValueError(f"Invalid rule: {rule}: {error}") from None
        replacement = _GROUP_REF.sub(r"\\g<\1>", parsed.group(3).replace("\\", "\\\\"))
        rules.append(Rule(pattern, replacement, parsed.group(4)))
    if not rules:
        raise ValueError(f"Invalid rule: {text}")
    return tuple(rules)


@dataclass(frozen=True, slots=True)
class PrincipalMapper:
    """The rules of ``ssl.principal.mapping.rules``, ready to map names."""

    rules: tuple[Rule, ...]

    @classmethod
    def from_config(cls, text: str = "DEFAULT") -> PrincipalMapper:
        return cls(parse_rules(text))

    def name(self, distinguished_name: str) -> str:
        """The principal's name for ``distinguished_name``; NoMatchingRule if no rule applies."""
        for rule in self.rules:
            name = rule.apply(distinguished_name)
            if name is not None:
                return name
        raise NoMatchingRule(f"No rules apply to {distinguished_name}")

    def principal(self, distinguished_name: str) -> str:
        """``User:<name>``, as Kafka's ``DefaultKafkaPrincipalBuilder`` builds it."""
        return "User:" + self.name(distinguished_name)
