"""``refka fuzz`` on a bounded budget: in process (a few thousand inputs) and over sockets
against a refka broker (a few hundred), with 0 crashes, 0 hangs and every acknowledged canary
record readable after log recovery; and the fuzzer's own checks can fail."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from refka.core.context import PENDING, Encoded
from refka.core.dispatch import Api
from refka.fuzz.target import InProcessTarget
from refka.fuzz_cli import _chosen, add_arguments, run
from refka.protocol import codec
from refka.testing import RunningBroker

API_VERSIONS = 18


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_in_process_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "found"
    assert run(args("--frames", "2000", "--seed", "11", "--out", str(out))) == 0
    printed = capsys.readouterr().out
    assert "2000 inputs" in printed and "crashes 0, hangs 0, problems 0" in printed
    assert not out.exists()


def test_over_sockets_against_refka(
    broker: RunningBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "found"
    argv = ("--bootstrap", broker.bootstrap, "--frames", "300", "--seed", "12", "--timeout", "3")
    assert run(args(*argv, "--out", str(out))) == 0, capsys.readouterr().out
    assert "crashes 0, hangs 0, problems 0" in capsys.readouterr().out


def _api_versions_frame() -> bytes:
    request = codec.build(
        codec.request_class(API_VERSIONS, 3),
        client_software_name="x",
        client_software_version="1",
    )
    frame = codec.request_frame(request, 1, "x")
    return len(frame).to_bytes(4, "big") + frame


def _replace_api_versions(target: InProcessTarget, handle: object) -> None:
    apis = target.broker.core.dispatch.apis
    old = apis[API_VERSIONS]
    apis[API_VERSIONS] = Api(old.key, old.name, old.min_version, old.max_version, handle)


def test_a_handler_exception_counts_as_a_crash(target: InProcessTarget) -> None:
    def fail(ctx: object, request: object) -> object:
        raise RuntimeError("planted")

    saved = target.broker.core.dispatch.apis[API_VERSIONS]
    _replace_api_versions(target, fail)
    try:
        outcome = target.send(_api_versions_frame())
    finally:
        target.broker.core.dispatch.apis[API_VERSIONS] = saved
    assert outcome.verdict == "crash"
    assert "internal error in ApiVersions" in outcome.detail and "planted" in outcome.detail


def test_a_request_never_answered_counts_as_a_hang(target: InProcessTarget) -> None:
    saved = target.broker.core.dispatch.apis[API_VERSIONS]
    _replace_api_versions(target, lambda ctx, request: PENDING)
    try:
        outcome = target.send(_api_versions_frame())
    finally:
        target.broker.core.dispatch.apis[API_VERSIONS] = saved
    assert outcome.verdict == "hang"
    assert target.send(_api_versions_frame()).verdict == "answered"


def test_a_crash_writes_its_reproducer_and_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from refka.handlers import api_versions

    def fail(*_: object) -> object:
        raise RuntimeError("planted")

    monkeypatch.setattr(api_versions, "handle_api_versions", fail)
    out = tmp_path / "found"
    code = run(args("--frames", "200", "--api", "ApiVersions", "--out", str(out)))
    assert code == 1
    [first, *_] = sorted(out.iterdir())
    text = first.read_text()
    assert "api: ApiVersions (key 18)" in text and "bytes: " in text


def test_an_answer_that_does_not_decode_counts_as_a_bad_answer(target: InProcessTarget) -> None:
    saved = target.broker.core.dispatch.apis[API_VERSIONS]
    _replace_api_versions(target, lambda ctx, request: Encoded((b"\x00",)))
    try:
        outcome = target.send(_api_versions_frame())
    finally:
        target.broker.core.dispatch.apis[API_VERSIONS] = saved
    assert outcome.verdict == "bad-answer", outcome


def test_unregister_broker_is_fuzzed_only_when_named() -> None:
    apis = [(0, 3, 13), (64, 0, 0)]
    assert _chosen(apis, None) == [(0, 3, 13)]
    assert _chosen(apis, ["UnregisterBroker"]) == [(64, 0, 0)]
