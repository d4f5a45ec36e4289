"""ACLs (StandardAuthorizer): the ACL admin APIs, and a denial on each resource type.

Two kinds of target. Without an authorizer (the default), CreateAcls, DescribeAcls and
DeleteAcls answer SECURITY_DISABLED. With ``authorizer.class.name=org.apache.kafka.metadata.
authorizer.StandardAuthorizer`` and ``allow.everyone.if.no.acl.found=true`` (so that the
anonymous PLAINTEXT principal, which is also the brokers' own, may do what no ACL covers), the
probes cover a resource with an ACL for another principal and expect User:ANONYMOUS refused
with the resource type's error; each removes its ACLs afterwards. A probe for the other kind
of target is skipped as not supported. ACLs reach the brokers through the metadata log, so
each probe polls until its ACL is in force.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.probes import produce
from conformance.records import Record, build_batch
from conformance.target import NOT_SUPPORTED, Target, eventually, unique_topic

E = ErrorCode
TOPIC, GROUP, CLUSTER, TXN = 2, 3, 4, 5
LITERAL, PREFIXED, MATCH, ANY = 3, 4, 2, 1
ALL, READ, WRITE, ALTER, DESCRIBE = 2, 3, 4, 7, 8
DENY, ALLOW = 2, 3
ANONYMOUS, OTHER = "User:ANONYMOUS", "User:acl-probe-other"

Acl = tuple[int, str, int, str, str, int, int]  # type, name, pattern, principal, host, op, perm


def describe_all(target: Target) -> Any:
    return target.call(
        "DescribeAcls",
        1,
        None,
        resource_type_filter=ANY,
        resource_name_filter=None,
        pattern_type_filter=ANY,
        principal_filter=None,
        host_filter=None,
        operation=1,
        permission_type=1,
    )


def authorizer_on(target: Target) -> bool:
    answer = describe_all(target)
    if answer.error_code == E.security_disabled:
        return False
    assert answer.error_code == E.none, answer
    return True


def require_authorizer(target: Target) -> None:
    if not authorizer_on(target):
        pytest.skip(f"{NOT_SUPPORTED}: the target runs without an authorizer")


def creation(acl: Acl) -> dict[str, Any]:
    rtype, name, pattern, principal, host, op, perm = acl
    return {
        "resource_type": rtype,
        "resource_name": name,
        "resource_pattern_type": pattern,
        "principal": principal,
        "host": host,
        "operation": op,
        "permission_type": perm,
    }


def exact_filter(acl: Acl) -> dict[str, Any]:
    rtype, name, pattern, principal, host, op, perm = acl
    return {
        "resource_type_filter": rtype,
        "resource_name_filter": name,
        "pattern_type_filter": pattern,
        "principal_filter": principal,
        "host_filter": host,
        "operation": op,
        "permission_type": perm,
    }


def create_acls(target: Target, *acls: Acl) -> None:
    answer = target.call("CreateAcls", 1, None, creations=[creation(a) for a in acls])
    assert [r.error_code for r in answer.results] == [E.none] * len(acls), answer


def delete_acls(target: Target, *acls: Acl) -> Any:
    return target.call("DeleteAcls", 1, None, filters=[exact_filter(a) for a in acls])


@contextlib.contextmanager
def acls_in_force(target: Target, *acls: Acl) -> Iterator[None]:
    create_acls(target, *acls)
    try:
        yield
    finally:
        delete_acls(target, *acls)


def metadata_error(target: Target, name: str) -> Any:
    found = target.metadata_topic(name)
    assert found is not None
    return found.error_code


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- without an authorizer ---------------------------------------------------------------------


@pytest.mark.api("DescribeAcls", behaviour="without an authorizer: SECURITY_DISABLED")
def test_acl_apis_without_an_authorizer_answer_security_disabled(target: Target) -> None:
    if authorizer_on(target):
        pytest.skip(f"{NOT_SUPPORTED}: the target runs an authorizer")
    acl = (TOPIC, unique("acl"), LITERAL, OTHER, "*", READ, ALLOW)
    created = target.call("CreateAcls", 1, None, creations=[creation(acl)])
    assert [r.error_code for r in created.results] == [E.security_disabled]
    deleted = delete_acls(target, acl)
    assert [r.error_code for r in deleted.filter_results] == [E.security_disabled]


# -- with the StandardAuthorizer ---------------------------------------------------------------


@pytest.mark.api("CreateAcls", behaviour="created ACLs are described; deleted ones are gone")
def test_acl_create_describe_delete(target: Target) -> None:
    require_authorizer(target)
    name = unique("acl")
    literal = (TOPIC, name, LITERAL, OTHER, "*", READ, ALLOW)
    prefixed = (TOPIC, name[:-3], PREFIXED, OTHER, "*", WRITE, DENY)
    with acls_in_force(target, literal, prefixed):
        match = {**exact_filter(literal), "pattern_type_filter": MATCH, "operation": 1}
        match |= {"principal_filter": None, "permission_type": 1}
        answer = eventually(
            lambda: target.call("DescribeAcls", 1, None, **match),
            lambda a: len(a.resources) == 2,
        )
        assert answer.error_code == E.none
        patterns = {(r.resource_name, r.pattern_type) for r in answer.resources}
        assert patterns == {(name, LITERAL), (name[:-3], PREFIXED)}
    gone = eventually(
        lambda: target.call("DescribeAcls", 1, None, **match), lambda a: not a.resources
    )
    assert gone.resources == ()


@pytest.mark.observed
@pytest.mark.api("CreateAcls", behaviour="an ACL for ANY operation fails the whole request")
def test_acl_creation_with_any_operation_fails_the_request(target: Target) -> None:
    """Kafka cannot build the binding (IllegalArgumentException): UNKNOWN_SERVER_ERROR for
    every creation of the request, the valid one too."""
    require_authorizer(target)
    name = unique("acl")
    bad = (TOPIC, name, LITERAL, OTHER, "*", 1, ALLOW)
    good = (TOPIC, name, LITERAL, OTHER, "*", READ, ALLOW)
    answer = target.call("CreateAcls", 1, None, creations=[creation(bad), creation(good)])
    assert [r.error_code for r in answer.results] == [E.unknown_server_error] * 2
    assert delete_acls(target, good).filter_results[0].matching_acls == ()


@pytest.mark.api("CreateAcls", behaviour="an empty name or a CLUSTER not named kafka-cluster")
def test_acl_creation_with_a_bad_name_is_invalid(target: Target) -> None:
    require_authorizer(target)
    empty = (TOPIC, "", LITERAL, OTHER, "*", READ, ALLOW)
    cluster = (CLUSTER, "my-cluster", LITERAL, OTHER, "*", ALTER, ALLOW)
    answer = target.call("CreateAcls", 1, None, creations=[creation(empty), creation(cluster)])
    assert [r.error_code for r in answer.results] == [E.invalid_request] * 2


@pytest.mark.api("Produce", behaviour="an ACL for another principal: TOPIC_AUTHORIZATION_FAILED")
def test_acl_topic_denial(target: Target) -> None:
    require_authorizer(target)
    topic = unique_topic("acl")
    target.create_topic(topic, 1)
    batch = build_batch([Record(b"v")])
    with acls_in_force(target, (TOPIC, topic, LITERAL, OTHER, "*", WRITE, ALLOW)):
        answer = eventually(
            lambda: produce(target, topic, batch),
            lambda r: r.error_code == E.topic_authorization_failed,
        )
        assert answer.error_code == E.topic_authorization_failed
        assert metadata_error(target, topic) == E.topic_authorization_failed
        listed = target.call("Metadata", 1, 12, topics=None, allow_auto_topic_creation=False)
        assert topic not in {t.name for t in listed.topics}


@pytest.mark.api("FindCoordinator", behaviour="a group covered by an ACL for another principal")
def test_acl_group_denial(target: Target) -> None:
    require_authorizer(target)
    group = unique("acl-group")
    with acls_in_force(target, (GROUP, group, LITERAL, OTHER, "*", READ, ALLOW)):
        answer = eventually(
            lambda: target.call("FindCoordinator", 0, 3, key=group, key_type=0),
            lambda a: a.error_code == E.group_authorization_failed,
        )
        assert answer.error_code == E.group_authorization_failed


@pytest.mark.api("InitProducerId", behaviour="a transactional id covered by another's ACL")
def test_acl_transactional_id_denial(target: Target) -> None:
    require_authorizer(target)
    txn_id = unique("acl-txn")
    with acls_in_force(target, (TXN, txn_id, LITERAL, OTHER, "*", WRITE, ALLOW)):
        answer = eventually(
            lambda: target.call(
                "InitProducerId",
                0,
                None,
                transactional_id=txn_id,
                transaction_timeout=60000,
                producer_id=-1,
                producer_epoch=-1,
            ),
            lambda a: a.error_code == E.transactional_id_authorization_failed,
        )
        assert answer.error_code == E.transactional_id_authorization_failed


@pytest.mark.api(
    "DescribeAcls", behaviour="DENY DESCRIBE on the cluster: CLUSTER_AUTHORIZATION_FAILED"
)
def test_acl_cluster_denial(target: Target) -> None:
    """ALLOW ALL keeps the brokers' own anonymous requests (CLUSTER_ACTION) going."""
    require_authorizer(target)
    allow_all = (CLUSTER, "kafka-cluster", LITERAL, ANONYMOUS, "*", ALL, ALLOW)
    deny_describe = (CLUSTER, "kafka-cluster", LITERAL, ANONYMOUS, "*", DESCRIBE, DENY)
    with acls_in_force(target, allow_all, deny_describe):
        answer = eventually(
            lambda: describe_all(target),
            lambda a: a.error_code == E.cluster_authorization_failed,
        )
        assert answer.error_code == E.cluster_authorization_failed
    back = eventually(lambda: describe_all(target), lambda a: a.error_code == E.none)
    assert back.error_code == E.none


@pytest.mark.api("Metadata", behaviour="a PREFIXED ACL covers names it starts, not shorter ones")
def test_acl_prefixed_pattern_does_not_over_match(target: Target) -> None:
    require_authorizer(target)
    base = unique("acl-prefix")
    with acls_in_force(target, (TOPIC, f"{base}-long", PREFIXED, OTHER, "*", DESCRIBE, ALLOW)):
        covered = eventually(
            lambda: metadata_error(target, f"{base}-longer"),
            lambda e: e == E.topic_authorization_failed,
        )
        assert covered == E.topic_authorization_failed
        assert metadata_error(target, f"{base}-lon") == E.unknown_topic_or_partition


@pytest.mark.api("Metadata", behaviour="a DENY ACL wins over an ALLOW ACL")
def test_acl_deny_wins_over_allow(target: Target) -> None:
    require_authorizer(target)
    denied, allowed = unique("acl-deny"), unique("acl-allow")
    acls = (
        (TOPIC, denied, LITERAL, ANONYMOUS, "*", DESCRIBE, ALLOW),
        (TOPIC, denied, LITERAL, "User:*", "*", DESCRIBE, DENY),
        (TOPIC, allowed, LITERAL, ANONYMOUS, "*", DESCRIBE, ALLOW),
    )
    with acls_in_force(target, *acls):
        error = eventually(
            lambda: metadata_error(target, denied), lambda e: e == E.topic_authorization_failed
        )
        assert error == E.topic_authorization_failed
        assert metadata_error(target, allowed) == E.unknown_topic_or_partition


@pytest.mark.api("Metadata", behaviour="host * matches every client; another address none")
def test_acl_wildcard_host(target: Target) -> None:
    require_authorizer(target)
    elsewhere, everywhere = unique("acl-host"), unique("acl-host")
    acls = (
        (TOPIC, elsewhere, LITERAL, ANONYMOUS, "192.0.2.1", DESCRIBE, DENY),
        (TOPIC, elsewhere, LITERAL, ANONYMOUS, "*", DESCRIBE, ALLOW),
        (TOPIC, everywhere, LITERAL, ANONYMOUS, "*", DESCRIBE, DENY),
    )
    with acls_in_force(target, *acls):
        error = eventually(
            lambda: metadata_error(target, everywhere),
            lambda e: e == E.topic_authorization_failed,
        )
        assert error == E.topic_authorization_failed
        assert metadata_error(target, elsewhere) == E.unknown_topic_or_partition
