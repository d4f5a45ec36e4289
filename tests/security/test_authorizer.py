"""The StandardAuthorizer decision: checked against a brute-force model (Hypothesis), and the
historical bugs pinned as regressions (prefix over-match, deny vs allow, wildcard host)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from refka.security.acl import (
    AclBinding,
    AclFilter,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourceType,
)
from refka.security.authorizer import StandardAuthorizer, parse_super_users

Op, Perm, RT, PT = AclOperation, AclPermissionType, ResourceType, PatternType
CONCRETE_OPS = [op for op in Op if op not in (Op.UNKNOWN, Op.ANY, Op.ALL)]
NAMES = ["", "fo", "foo", "foobar", "*"]
PRINCIPALS = ["User:alice", "User:bob", "User:*"]
HOSTS = ["*", "10.0.0.1", "10.0.0.2"]
SAMPLED_OPS = [Op.READ, Op.WRITE, Op.CREATE, Op.ALTER, Op.DESCRIBE, Op.DESCRIBE_CONFIGS]
SAMPLED_OPS += [Op.ALTER_CONFIGS]  # the implying and implied ones, and one unrelated


def acl(
    name: str,
    op: AclOperation = Op.READ,
    perm: AclPermissionType = Perm.ALLOW,
    *,
    pattern: PatternType = PT.LITERAL,
    principal: str = "User:alice",
    host: str = "*",
    rtype: ResourceType = RT.TOPIC,
) -> AclBinding:
    return AclBinding(rtype, name, pattern, principal, host, op, perm)


def authorizer(*acls: AclBinding, everyone: bool = False, supers: str = "") -> StandardAuthorizer:
    return StandardAuthorizer(lambda: acls, parse_super_users(supers), everyone)


def allowed(a: StandardAuthorizer, name: str, op: AclOperation = Op.READ, **kw: str) -> bool:
    principal = kw.get("principal", "User:alice")
    return a.authorize(principal, kw.get("host", "10.0.0.1"), op, RT.TOPIC, name)


# -- the model -------------------------------------------------------------------------------


def granted_ops(binding: AclBinding) -> set[AclOperation]:
    """Every operation an ACL speaks for, spelled out (ALLOW expands the implications)."""
    if binding.operation == Op.ALL:
        return set(CONCRETE_OPS)
    ops = {binding.operation}
    if binding.permission == Perm.ALLOW:
        if binding.operation in (Op.READ, Op.WRITE, Op.DELETE, Op.ALTER):
            ops.add(Op.DESCRIBE)
        if binding.operation == Op.ALTER_CONFIGS:
            ops.add(Op.DESCRIBE_CONFIGS)
    return ops


def model(
    acls: list[AclBinding],
    supers: set[str],
    everyone: bool,
    principal: str,
    host: str,
    op: AclOperation,
    rtype: ResourceType,
    name: str,
) -> bool:
    if principal in supers:
        return True
    covering = [
        b
        for b in acls
        if b.resource_type == rtype
        and (
            (b.pattern_type == PT.LITERAL and (b.name == name or b.name == "*"))
            or (b.pattern_type == PT.PREFIXED and name[: len(b.name)] == b.name)
        )
    ]
    hits = [
        b
        for b in covering
        if b.principal in {principal, "User:*"} and b.host in {host, "*"} and op in granted_ops(b)
    ]
    if any(b.permission == Perm.DENY for b in hits):
        return False
    if any(b.permission == Perm.ALLOW for b in hits):
        return True
    return everyone and not covering


bindings = st.builds(
    AclBinding,
    st.sampled_from([RT.TOPIC, RT.GROUP]),
    st.sampled_from(NAMES),
    st.sampled_from([PT.LITERAL, PT.PREFIXED]),
    st.sampled_from(PRINCIPALS),
    st.sampled_from(HOSTS),
    st.sampled_from([Op.ALL, *SAMPLED_OPS]),
    st.sampled_from([Perm.ALLOW, Perm.DENY]),
)


@settings(max_examples=1000, deadline=None)
@given(
    acls=st.lists(bindings, max_size=8),
    supers=st.sets(st.sampled_from(PRINCIPALS[:2]), max_size=1),
    everyone=st.booleans(),
    principal=st.sampled_from(PRINCIPALS[:2]),
    host=st.sampled_from(HOSTS[1:]),
    op=st.sampled_from(SAMPLED_OPS),
    rtype=st.sampled_from([RT.TOPIC, RT.GROUP]),
    name=st.sampled_from(NAMES),
)
def test_authorizer_agrees_with_the_brute_force_model(
    acls: list[AclBinding],
    supers: set[str],
    everyone: bool,
    principal: str,
    host: str,
    op: AclOperation,
    rtype: ResourceType,
    name: str,
) -> None:
    a = StandardAuthorizer(lambda: acls, frozenset(supers), everyone)
    expected = model(acls, supers, everyone, principal, host, op, rtype, name)
    assert a.authorize(principal, host, op, rtype, name) is expected


# -- regressions -----------------------------------------------------------------------------


def test_a_prefixed_acl_covers_names_that_start_with_it_and_no_others() -> None:
    a = authorizer(acl("foo", pattern=PT.PREFIXED))
    assert allowed(a, "foo") and allowed(a, "foobar") and allowed(a, "foo.x")
    assert not allowed(a, "fo")  # the prefix is longer than the name
    assert not allowed(a, "bar") and not allowed(a, "xfoo") and not allowed(a, "Foo")


def test_a_longer_prefix_does_not_cover_a_shorter_name() -> None:
    """Kafka's scan over ACLs sorted by reversed name must not let "foobar" cover "foo"."""
    a = authorizer(acl("foobar", pattern=PT.PREFIXED), acl("foob"))
    assert not allowed(a, "foo")
    assert allowed(a, "foobarbaz") and allowed(a, "foob")


def test_a_literal_acl_covers_its_name_only() -> None:
    a = authorizer(acl("foo"))
    assert allowed(a, "foo")
    assert not allowed(a, "foobar") and not allowed(a, "fo")


def test_the_literal_wildcard_covers_every_name_but_a_prefixed_star_only_star_names() -> None:
    assert allowed(authorizer(acl("*")), "anything")
    prefixed = authorizer(acl("*", pattern=PT.PREFIXED))
    assert allowed(prefixed, "*x") and not allowed(prefixed, "x")


def test_deny_wins_over_allow() -> None:
    a = authorizer(acl("t"), acl("t", perm=Perm.DENY, principal="User:*"))
    assert not allowed(a, "t")
    prefixed_deny = authorizer(acl("t"), acl("", perm=Perm.DENY, pattern=PT.PREFIXED))
    assert not allowed(prefixed_deny, "t")


def test_implied_operations_come_from_allow_acls_only() -> None:
    a = authorizer(acl("t", Op.READ))
    assert allowed(a, "t", Op.DESCRIBE) and not allowed(a, "t", Op.WRITE)
    deny_read = authorizer(acl("t", Op.DESCRIBE), acl("t", Op.READ, Perm.DENY))
    assert allowed(deny_read, "t", Op.DESCRIBE)  # a DENY for READ does not deny DESCRIBE
    configs = authorizer(acl("t", Op.ALTER_CONFIGS))
    assert allowed(configs, "t", Op.DESCRIBE_CONFIGS) and not allowed(configs, "t", Op.ALTER)
    assert allowed(authorizer(acl("t", Op.ALL)), "t", Op.DELETE)


def test_a_wildcard_host_matches_every_address_and_an_address_only_itself() -> None:
    assert allowed(authorizer(acl("t", host="*")), "t", host="192.168.1.9")
    exact = authorizer(acl("t", host="10.0.0.1"))
    assert allowed(exact, "t", host="10.0.0.1") and not allowed(exact, "t", host="10.0.0.2")


def test_super_users_and_allow_everyone_if_no_acl_found() -> None:
    a = authorizer(acl("t", perm=Perm.DENY, principal="User:*"), supers="User:root; User:op")
    assert allowed(a, "t", principal="User:root") and allowed(a, "t", principal="User:op")
    open_ = authorizer(acl("t", principal="User:bob"), everyone=True)
    assert allowed(open_, "other")  # no ACL covers it
    assert not allowed(open_, "t")  # an ACL covers it, none matches alice
    assert not allowed(authorizer(), "t")  # the default: deny


def test_authorized_operations_is_a_bit_field_of_kafka_codes() -> None:
    a = authorizer(acl("t", Op.READ))
    bits = a.authorized_operations("User:alice", "h", RT.TOPIC, "t")
    assert bits == (1 << Op.READ) | (1 << Op.DESCRIBE)


def test_filters_match_as_kafka_acl_binding_filter() -> None:
    prefixed, literal, star = acl("fo", pattern=PT.PREFIXED), acl("foo"), acl("*")
    match = AclFilter(RT.TOPIC, "foo", PT.MATCH)
    assert match.matches(prefixed) and match.matches(literal) and match.matches(star)
    assert not AclFilter(RT.TOPIC, "fo", PT.MATCH).matches(literal)
    any_ = AclFilter(RT.ANY, "foo", PT.ANY)
    assert any_.matches(literal) and not any_.matches(prefixed)
    assert AclFilter(permission=Perm.DENY).matches(literal) is False
    assert AclFilter(RT.UNKNOWN).invalid() is not None and AclFilter().invalid() is None
