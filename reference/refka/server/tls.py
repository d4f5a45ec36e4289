"""TLS for the SSL and SASL_SSL listeners and for refka's own clients, with Python's ``ssl``.

Kafka's ``DefaultSslEngineFactory`` for PEM stores (KIP-651): the key store is either a file
(``ssl.keystore.location``: the private key and its certificate chain) or inline PEM
(``ssl.keystore.key`` + ``ssl.keystore.certificate.chain``); the trust store a file
(``ssl.truststore.location``) or inline PEM (``ssl.truststore.certificates``); with none, the
system's trusted authorities. ``ssl.client.auth`` sets whether a client's certificate is
``required``, ``requested`` or not asked for (``none``). Every key may be set per listener as
``listener.name.<name>.<key>`` (:func:`refka.config.listener_setting`).

Only the driver imports this module, and only when a listener or a client needs TLS: a
PLAINTEXT-only broker starts without it.
"""

from __future__ import annotations

import os
import re
import ssl
import tempfile
from dataclasses import dataclass

from refka.config import BrokerConfig, ConfigError, listener_setting, security_protocol
from refka.core.context import ANONYMOUS
from refka.security.principal_mapping import PrincipalMapper
from refka.security.x500 import distinguished_name

CLIENT_AUTH = {
    "none": ssl.CERT_NONE,
    "requested": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}
_VERSIONS = {
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


def uses_tls(protocol: str) -> bool:
    return protocol in ("SSL", "SASL_SSL")


@dataclass(frozen=True, slots=True)
class ListenerSecurity:
    """What the driver needs for one listener: its TLS context (None: plain TCP) and, on an
    SSL listener, the mapper from a client certificate to the connection's principal."""

    protocol: str
    context: ssl.SSLContext | None = None
    mapper: PrincipalMapper | None = None

    def principal(self, ssl_object: object) -> str:
        """The principal of an SSL connection: its client certificate's DN mapped by
        ``ssl.principal.mapping.rules``, ANONYMOUS without a certificate (or on a SASL_SSL
        listener, where SASL sets it). NoMatchingRule when no rule applies."""
        if self.mapper is None or not isinstance(ssl_object, ssl.SSLObject):
            return ANONYMOUS
        certificate = ssl_object.getpeercert()
        subject = certificate.get("subject") if certificate else None
        if not subject:
            return ANONYMOUS
        return self.mapper.principal(distinguished_name(subject))  # type: ignore[arg-type]


def listener_security(config: BrokerConfig, listener: str) -> ListenerSecurity:
    """The security of ``listener`` (a name of ``listeners``); ConfigError when its TLS
    stores cannot be read."""
    protocol = security_protocol(config, listener)
    if not uses_tls(protocol):
        return ListenerSecurity(protocol)
    context = server_context(config, listener)
    mapper = None
    if protocol == "SSL":
        rules = listener_setting(config, listener, "ssl_principal_mapping_rules")
        mapper = PrincipalMapper.from_config(rules)
    return ListenerSecurity(protocol, context, mapper)


def server_context(config: BrokerConfig, listener: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _set_versions(context, config, listener)
    if not _load_keystore(context, config, listener):
        raise ConfigError(
            f"listener {listener} ({security_protocol(config, listener)}) needs a key store: "
            "ssl.keystore.location or ssl.keystore.certificate.chain + ssl.keystore.key"
        )
    client_auth = listener_setting(config, listener, "ssl_client_auth")
    context.verify_mode = CLIENT_AUTH[client_auth]
    if client_auth != "none":
        _load_truststore(context, config, listener)
    return context


def client_context(config: BrokerConfig, listener: str) -> ssl.SSLContext:
    """The context of refka's clients (inter-broker, controller) to a TLS ``listener``: the
    trust store checks the server, ``ssl.endpoint.identification.algorithm=https`` its host
    name, and a key store, if set, answers the server's request for a certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _set_versions(context, config, listener)
    algorithm = listener_setting(config, listener, "ssl_endpoint_identification_algorithm")
    context.check_hostname = algorithm.strip().lower() == "https"
    _load_truststore(context, config, listener)
    _load_keystore(context, config, listener)
    return context


def _set_versions(context: ssl.SSLContext, config: BrokerConfig, listener: str) -> None:
    text = listener_setting(config, listener, "ssl_enabled_protocols")
    versions = [_VERSIONS[v.strip()] for v in text.split(",") if v.strip() in _VERSIONS]
    if not versions:
        raise ConfigError(f"ssl.enabled.protocols {text!r} names no protocol refka speaks")
    context.minimum_version, context.maximum_version = min(versions), max(versions)


def _check_pem(config: BrokerConfig, listener: str, key: str) -> None:
    store_type = str(listener_setting(config, listener, key)).upper()
    if store_type != "PEM":
        alias = BrokerConfig.model_fields[key].alias
        raise ConfigError(f"{alias}={store_type} on listener {listener}: refka reads PEM only")


def _load_keystore(context: ssl.SSLContext, config: BrokerConfig, listener: str) -> bool:
    location = listener_setting(config, listener, "ssl_keystore_location")
    chain = listener_setting(config, listener, "ssl_keystore_certificate_chain")
    key = listener_setting(config, listener, "ssl_keystore_key")
    password = listener_setting(config, listener, "ssl_key_password")
    if not location and not chain:
        return False
    _check_pem(config, listener, "ssl_keystore_type")
    try:
        if location:
            context.load_cert_chain(location, password=password)
        else:
            if not key:
                raise ConfigError("ssl.keystore.certificate.chain needs ssl.keystore.key")
            _load_inline_chain(context, normalize_pem(chain), normalize_pem(key), password)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"cannot load the key store of listener {listener}: {error}") from None
    return True


def _load_inline_chain(context: ssl.SSLContext, chain: str, key: str, password: str | None) -> None:
    """``load_cert_chain`` reads files only: the inline PEM goes through a private temporary
    file, deleted at once."""
    descriptor, path = tempfile.mkstemp(suffix=".pem")  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(key + chain)
        context.load_cert_chain(path, password=password)
    finally:
        os.unlink(path)


def _load_truststore(context: ssl.SSLContext, config: BrokerConfig, listener: str) -> None:
    location = listener_setting(config, listener, "ssl_truststore_location")
    certificates = listener_setting(config, listener, "ssl_truststore_certificates")
    if not location and not certificates:
        server_side = context.protocol == ssl.PROTOCOL_TLS_SERVER
        context.load_default_certs(
            ssl.Purpose.CLIENT_AUTH if server_side else ssl.Purpose.SERVER_AUTH
        )
        return
    _check_pem(config, listener, "ssl_truststore_type")
    try:
        if location:
            context.load_verify_locations(cafile=location)
        else:
            context.load_verify_locations(cadata=normalize_pem(certificates))
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"cannot load the trust store of listener {listener}: {error}") from None


def normalize_pem(text: str) -> str:
    """PEM blocks with their base64 re-wrapped: a properties value may hold a PEM on one line
    or with its line breaks escaped, as Kafka accepts."""
    blocks = []
    for label, body in _PEM_BLOCK.findall(text):
        data = "".join(body.split())
        lines = [data[i : i + 64] for i in range(0, len(data), 64)]
        blocks.append(
            f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"
        )
    if not blocks:
        raise ConfigError("no PEM block found in an inline ssl.keystore/ssl.truststore value")
    return "".join(blocks)
