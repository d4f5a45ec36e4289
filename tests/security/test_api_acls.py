"""The one table of authorization rules covers every API refka serves."""

from __future__ import annotations

import sys
from pathlib import Path

from refka.controller.controller_acls import GUARDED
from refka.controller.controller_apis import API_TABLE
from refka.security.acl import OPERATIONS, ResourceType
from refka.security.api_acls import API_ACLS, CLUSTER

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from core_driver import Driver

UNCHECKED = {
    17: "SaslHandshake",
    18: "ApiVersions",
    36: "SaslAuthenticate",
    39: "RenewDelegationToken: the owner or a renewer, checked by the controller",
    40: "ExpireDelegationToken: the owner or a renewer, checked by the controller",
    60: "DescribeCluster",
    71: "telemetry",
    72: "telemetry",
}


def test_every_broker_and_controller_api_has_rules_or_is_knowingly_unchecked() -> None:
    served = set(Driver().broker.apis) | set(API_TABLE)
    missing = sorted(key for key in served if key not in API_ACLS and key not in UNCHECKED)
    assert not missing, f"APIs without authorization rules: {missing}"


def test_every_rule_names_an_operation_its_resource_type_has() -> None:
    for key, rules in API_ACLS.items():
        for resource_type, operation in rules:
            assert operation in OPERATIONS[resource_type], (key, resource_type, operation)


def test_the_controller_guards_exactly_its_cluster_apis() -> None:
    """Those it serves whose only rule is on the CLUSTER; the forwarded admin APIs are
    authorized at the broker."""
    cluster_only = {
        key
        for key in API_TABLE
        if key in API_ACLS
        and {t for t, _ in API_ACLS[key]} == {CLUSTER}
        # forwarded: ElectLeaders, reassignments, ACLs, AlterUserScramCredentials,
        # AlterClientQuotas, UnregisterBroker
        and key not in (43, 45, 46, 30, 31, 51, 49, 64)
    }
    assert cluster_only | {1} == set(GUARDED)  # 1: the metadata Fetch (its TOPIC rule aside)
    assert ResourceType.CLUSTER in OPERATIONS
