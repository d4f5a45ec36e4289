"""A certificate's subject as an RFC 2253 distinguished name (``X500Principal.getName()``).

Python's ``SSLSocket.getpeercert()`` gives the subject as relative distinguished names in
certificate order, each a tuple of ``(attribute, value)`` pairs with OpenSSL's long attribute
names. RFC 2253 writes them last first, comma-separated, multi-valued ones joined with ``+``,
with the short names Java uses (``CN``, ``OU``, ``O``, ``L``, ``ST``, ``C``, ``STREET``,
``DC``, ``UID``) and a backslash before the special characters.
"""

from __future__ import annotations

from collections.abc import Sequence

SHORT_NAMES = {
    "commonName": "CN",
    "organizationalUnitName": "OU",
    "organizationName": "O",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "countryName": "C",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}
_SPECIAL = frozenset(',+"\\<>;')

Subject = Sequence[Sequence[tuple[str, str]]]


def escape(value: str) -> str:
    """An attribute value with RFC 2253's escapes (special characters, edge blanks, ``#``)."""
    out = "".join("\\" + c if c in _SPECIAL else c for c in value)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def distinguished_name(subject: Subject) -> str:
    """RFC 2253's string for a ``getpeercert()['subject']``."""
    return ",".join(
        "+".join(f"{SHORT_NAMES.get(key, key)}={escape(value)}" for key, value in rdn)
        for rdn in reversed(subject)
    )
