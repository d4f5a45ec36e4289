"""The ACL probes (conformance/test_acls.py) against Apache Kafka and refka, both configured
with the StandardAuthorizer and ``allow.everyone.if.no.acl.found=true``: every probe of an
authorizer passes on both (the one for a target without authorizer is skipped)."""

from __future__ import annotations

from pathlib import Path

import pytest
from refka.peers.kafka import running_kafka
from refka.peers.process import PeerUnavailable
from refka.peers.refka_broker import running_refka

from conformance.differences import REFKA_PEER_CONFIG
from conformance.outcomes import PASSED, SKIPPED, UNSUPPORTED
from conformance.runner import Run, run_suite_subprocess

AUTHORIZER = {
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found": "true",
}
ONLY = "test_acls"
PROBES_WITH_AUTHORIZER = 10


def assert_acl_probes_pass(run: Run) -> None:
    outcomes = {o.test_id: o.outcome for o in run.outcomes.values() if ONLY in o.test_id}
    passed = [t for t, o in outcomes.items() if o == PASSED]
    others = {
        o.test_id: o.detail
        for o in run.outcomes.values()
        if ONLY in o.test_id and o.outcome not in (PASSED, SKIPPED, UNSUPPORTED)
    }
    assert not others, others
    assert len(passed) == PROBES_WITH_AUTHORIZER, outcomes


def test_acl_probes_pass_against_apache_kafka_with_the_standard_authorizer(
    tmp_path: Path,
) -> None:
    try:
        context = running_kafka(tmp_path / "kafka", properties=AUTHORIZER)
        peer = context.__enter__()
    except PeerUnavailable as error:
        pytest.skip(str(error))
    try:
        run = run_suite_subprocess(peer.bootstrap, tmp_path / "k.json", "Apache Kafka", only=ONLY)
    finally:
        context.__exit__(None, None, None)
    assert_acl_probes_pass(run)


def test_acl_probes_pass_against_refka_with_the_standard_authorizer(tmp_path: Path) -> None:
    configs = {**REFKA_PEER_CONFIG, **AUTHORIZER}
    with running_refka(tmp_path / "refka", **configs) as peer:
        run = run_suite_subprocess(peer.bootstrap, tmp_path / "r.json", "refka", only=ONLY)
    assert_acl_probes_pass(run)
