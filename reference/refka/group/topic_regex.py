"""Regex subscriptions (KIP-848 ``subscribed_topic_regex``), in the RE2/J syntax Kafka uses.

Kafka compiles the regex with RE2/J and subscribes the member to every topic the regex matches
in full (``Matcher.matches``), internal topics excepted. refka compiles it with Python's ``re``
after refusing what RE2 does not have (INVALID_REGULAR_EXPRESSION): lookaround (``(?=``,
``(?!``, ``(?<=``, ``(?<!``), backreferences (``\\1``-``\\9``, ``(?P=name)``), atomic groups
and possessive quantifiers. The rest of the common subset (classes, ``\\d\\w\\s``, anchors,
alternation, counted repetition, non-greedy, ``(?i)``, named groups ``(?P<name>``) means the
same in both.
"""

from __future__ import annotations

import re

_NOT_RE2 = re.compile(r"\(\?(?:=|!|<=|<!|P=|>)|\\[1-9]|[*+?}]\+")


def compile_topic_regex(pattern: str) -> re.Pattern[str]:
    """The compiled regex; ``re.error`` if it is invalid or outside RE2's syntax."""
    found = _NOT_RE2.search(pattern)
    if found is not None:
        raise re.error(f"{found.group(0)!r} is not RE2 syntax", pattern, found.start())
    return re.compile(pattern)


def matching_topics(pattern: re.Pattern[str], names: object) -> set[str]:
    """The topics ``pattern`` matches in full; internal topics (``__``) never."""
    return {n for n in names if not n.startswith("__") and pattern.fullmatch(n)}  # type: ignore[attr-defined]
