"""One fuzz input: the bytes a client writes on a fresh connection, and what they were meant as.

``inputs(apis)`` draws a request of a served API and version (``schema.entities``), encodes it
with a request header as a client would, and makes up to eight inputs of it: each mutated
(``mutate``) and framed, sometimes with a size prefix that lies, sometimes all pipelined on
one connection; or it draws raw garbage.
``FuzzInput.reproducer`` is what a failing input leaves behind: enough to send the same bytes
again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from refka.fuzz import mutate
from refka.fuzz.schema import NAMES, entities
from refka.protocol import codec

ApiRange = tuple[int, int, int]  # api key, lowest and highest version served


@dataclass(frozen=True, slots=True)
class FuzzInput:
    """``data`` (size prefixes included) sent as ``api_key`` v``api_version`` (-1: garbage)."""

    api_key: int
    api_version: int
    mutation: str
    data: bytes

    @property
    def label(self) -> str:
        return f"api {self.api_key} v{self.api_version} {self.mutation}"

    def reproducer(self, api_name: str, problem: str) -> str:
        return (
            f"problem: {problem}\napi: {api_name} (key {self.api_key}) v{self.api_version}\n"
            f"mutation: {self.mutation}\nbytes: {self.data.hex()}\n"
        )


@st.composite
def request_frame(draw: st.DrawFn, api: ApiRange, correlation_id: int) -> bytes:
    """A well-formed request (header and body, no size prefix) of ``api`` at some version."""
    key, low, high = api
    version = draw(st.integers(low, high))
    entity = draw(entities(codec.request_class(key, version)))
    client_id = draw(st.one_of(st.none(), st.sampled_from(NAMES), st.text(max_size=8)))
    return codec.request_frame(entity, correlation_id, client_id)


@st.composite
def inputs(
    draw: st.DrawFn, apis: Sequence[ApiRange], correlation_id: int = 7, variants: int = 8
) -> list[FuzzInput]:
    """A structured request and up to ``variants`` mutants of it, each framed (drawing the
    request is the costly part); or, one time in ten, as many pieces of garbage."""
    count = draw(st.integers(1, variants))
    if draw(st.integers(0, 9)) == 0:
        return [
            FuzzInput(-1, -1, "garbage", mutate.frame(draw(mutate.garbage()))) for _ in range(count)
        ]
    api = draw(st.sampled_from(apis))
    try:
        data = draw(request_frame(api, correlation_id))
    except (ValueError, TypeError, OverflowError) as error:  # a value kio cannot write
        return [FuzzInput(api[0], -1, f"unencodable {type(error).__name__}", b"")]
    version = int.from_bytes(data[2:4], "big")
    found = []
    for _ in range(count):
        name, damaged = draw(mutate.mutated(data))
        lie = draw(st.sampled_from((None,) * 12 + mutate.SIZE_LIES))
        if lie is not None:
            name = f"{name}+size-{lie}"
        found.append(FuzzInput(api[0], version, name, mutate.frame(damaged, lie)))
    if len(found) > 1 and draw(st.integers(0, 7)) == 0:  # all on one connection, pipelined
        names = ",".join(f.mutation for f in found)
        return [FuzzInput(api[0], version, f"pipelined {names}", b"".join(f.data for f in found))]
    return found
