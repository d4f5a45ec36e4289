"""``ssl.principal.mapping.rules`` with the examples of Kafka's documentation (KIP-371)."""

from __future__ import annotations

import pytest
from refka.security.principal_mapping import NoMatchingRule, PrincipalMapper, parse_rules
from refka.security.x500 import distinguished_name

DOC_RULES = (
    "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,"
    "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,"
    "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,"
    "DEFAULT"
)


@pytest.mark.parametrize(
    ("dn", "name"),
    [
        ("CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown", "serviceuser"),
        ("CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown", "adminuser@admin"),
        ("CN=kafka1,O=Apache", "kafka1"),  # the third rule, lower-cased
        ("OU=JavaSoft,O=Sun", "OU=JavaSoft,O=Sun"),  # DEFAULT: as is
    ],
)
def test_documented_rules_map_names(dn: str, name: str) -> None:
    assert PrincipalMapper.from_config(DOC_RULES).name(dn) == name


def test_default_keeps_the_distinguished_name() -> None:
    mapper = PrincipalMapper.from_config("DEFAULT")
    assert mapper.principal("CN=Duke,OU=JavaSoft,O=Sun") == "User:CN=Duke,OU=JavaSoft,O=Sun"


def test_upper_case_flag() -> None:
    mapper = PrincipalMapper.from_config("RULE:^CN=(.*?),.*$/$1/U")
    assert mapper.name("CN=duke,O=Sun") == "DUKE"


def test_no_rule_applies() -> None:
    mapper = PrincipalMapper.from_config("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/")
    with pytest.raises(NoMatchingRule):
        mapper.name("CN=duke,O=Sun")


def test_blanks_around_rules_are_ignored() -> None:
    rules = parse_rules("  RULE:^CN=(.*)$/$1/ ,  DEFAULT  ")
    assert len(rules) == 2


@pytest.mark.parametrize("text", ["", "RULE:^CN=(.*$/$1/", "NOT_A_RULE"])
def test_malformed_rules_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="Invalid rule"):
        parse_rules(text)


def test_subject_in_rfc2253_order_with_escapes() -> None:
    subject = (
        (("countryName", "US"),),
        (("organizationName", "Acme, Inc"),),
        (("organizationalUnitName", "eng"), ("userId", "7")),
        (("commonName", "alice"),),
    )
    assert distinguished_name(subject) == r"CN=alice,OU=eng+UID=7,O=Acme\, Inc,C=US"
