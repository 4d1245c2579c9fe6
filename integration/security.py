"""Who may talk to us, over what: TLS contexts, peer allowlists, bind addresses and the
production-mode start-up checks. One place for each rule; the listeners and the outbound
clients only call these.

TLS (both listeners, outbound MLLP and C-STORE): TLS 1.2 or newer and, for TLS 1.2, only
the cipher suites BCP 195 recommends (RFC 9325 section 4.2: ECDHE key exchange with
AES-GCM), as the DICOM "BCP 195 TLS Profile" (PS3.15 B.9) and DCMTK's default
``--profile-bcp195-nd`` ask; TLS 1.3 suites are all AEAD and stay as OpenSSL sets them.
Compression and renegotiation are off. Listeners ask for a client certificate when
``tls_client_auth`` is "optional" (verified against ``tls_ca_file`` when sent) or
"required" (the handshake fails without one). Outbound, the server's certificate is
verified against ``tls_ca_file`` (or the system store) with its host name checked, and
our certificate is offered when the peer asks for one.

Allowlists: ``dicom_allowed_peers`` holds ``CALLING_AE@HOST`` and ``hl7_allowed_peers``
``MSH-3^MSH-4@HOST``; HOST is an IP address or a network (``10.1.2.0/24``). Empty lists
allow anyone, which :func:`check_production` refuses.

Example
-------
>>> rules = parse_peers(("CART1@10.1.2.0/24", "CART2@127.0.0.1"), "dicom_allowed_peers")
>>> peer_allowed(rules, "CART1", "10.1.2.7"), peer_allowed(rules, "CART1", "10.9.9.9")
(True, False)
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass

from ecgread.config.settings import Settings
from ecgread.errors import ConfigError

__all__ = ["BCP195_CIPHERS", "LOOPBACK", "PeerRule", "bind_host", "check_production",
           "client_context", "dicom_rules", "hl7_rules", "parse_peers", "peer_allowed",
           "server_context"]

#: RFC 9325 section 4.2 (BCP 195) recommended TLS 1.2 cipher suites, OpenSSL names:
#: TLS_ECDHE_{ECDSA,RSA}_WITH_AES_{128,256}_GCM_SHA{256,384}.
BCP195_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384")
#: Where a listener binds when not told (the embedded default: nothing reachable from
#: the network until an operator says so).
LOOPBACK = "127.0.0.1"
_CLIENT_AUTH = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL,
                "required": ssl.CERT_REQUIRED}


def _harden(ctx: ssl.SSLContext) -> ssl.SSLContext:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(BCP195_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    return ctx


def _readable(path: str, name: str) -> str:
    if not path:
        raise ConfigError(f"TLS needs {name} (ECGREAD_{name.upper()})")
    if not os.path.isfile(path):
        raise ConfigError(f"{name}: no file at {path}")
    return path


def server_context(settings: Settings) -> ssl.SSLContext:
    """The listeners' TLS context (raises :class:`ConfigError` naming what is missing)."""
    if settings.tls_client_auth not in _CLIENT_AUTH:
        raise ConfigError("tls_client_auth must be none, optional or required, got "
                          f"{settings.tls_client_auth!r}")
    ctx = _harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        ctx.load_cert_chain(_readable(settings.tls_cert_file, "tls_cert_file"),
                            _readable(settings.tls_key_file, "tls_key_file"))
        if settings.tls_client_auth != "none":
            ctx.load_verify_locations(_readable(settings.tls_ca_file, "tls_ca_file"))
    except ssl.SSLError as exc:
        raise ConfigError(f"TLS certificate, key or CA file unusable: {exc.reason}") from exc
    ctx.verify_mode = _CLIENT_AUTH[settings.tls_client_auth]
    return ctx


def client_context(settings: Settings) -> ssl.SSLContext:
    """The outbound TLS context: the server is verified (``tls_ca_file`` or the system
    store, host name checked); our certificate is offered when one is configured."""
    ctx = _harden(ssl.create_default_context(cafile=settings.tls_ca_file or None))
    if settings.tls_cert_file or settings.tls_key_file:
        try:
            ctx.load_cert_chain(_readable(settings.tls_cert_file, "tls_cert_file"),
                                _readable(settings.tls_key_file, "tls_key_file"))
        except ssl.SSLError as exc:
            raise ConfigError(f"TLS certificate or key file unusable: {exc.reason}") from exc
    return ctx


@dataclass(frozen=True)
class PeerRule:
    """One allowlist entry: a sender identity (AE title, or MSH-3^MSH-4) from a network."""

    identity: str
    network: ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_peers(entries: tuple[str, ...], setting: str) -> tuple[PeerRule, ...]:
    """``IDENTITY@HOST`` entries as rules (raises :class:`ConfigError` on a bad entry)."""
    rules = []
    for entry in entries:
        identity, sep, host = entry.rpartition("@")
        try:
            if not sep or not identity:
                raise ValueError(entry)
            network = ipaddress.ip_network(host.strip(), strict=False)
        except ValueError as exc:
            raise ConfigError(f"{setting}: {entry!r} is not IDENTITY@HOST (HOST an IP address "
                              "or network)") from exc
        rules.append(PeerRule(identity.strip(), network))
    return tuple(rules)


def dicom_rules(settings: Settings) -> tuple[PeerRule, ...]:
    return parse_peers(settings.dicom_allowed_peers, "dicom_allowed_peers")


def hl7_rules(settings: Settings) -> tuple[PeerRule, ...]:
    return parse_peers(settings.hl7_allowed_peers, "hl7_allowed_peers")


def _in(host: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.version == network.version and address in network


def peer_allowed(rules: tuple[PeerRule, ...], identity: str, host: str) -> bool:
    """True when no rules are set or one rule has this identity and host."""
    return not rules or any(r.identity == identity and _in(host, r.network) for r in rules)


def identity_known(rules: tuple[PeerRule, ...], identity: str) -> bool:
    """True when some rule names this identity (from whatever host)."""
    return any(r.identity == identity for r in rules)


def bind_host(host: str, settings: Settings, setting: str) -> str:
    """The address to bind: ``host``, or loopback when it is empty outside production."""
    if host:
        return host
    if settings.production:
        raise ConfigError(f"production mode: set the bind address {setting} explicitly "
                          f"(ECGREAD_{setting.upper()})")
    return LOOPBACK


def check_production(settings: Settings) -> None:
    """Refuse to start in production mode without allowlists, bind addresses and an audit
    key: raises :class:`ConfigError` with one line naming the first thing missing."""
    if not settings.production:
        return
    from ecgread.audit.anchor import load_key

    for setting in ("dicom_host", "hl7_host"):
        bind_host(getattr(settings, setting), settings, setting)
    for setting in ("dicom_allowed_peers", "hl7_allowed_peers"):
        if not getattr(settings, setting):
            raise ConfigError(f"production mode: {setting} is empty; list the peers allowed "
                              f"(ECGREAD_{setting.upper()}=IDENTITY@HOST,...)")
    dicom_rules(settings), hl7_rules(settings)
    if load_key(settings) is None:
        raise ConfigError("production mode: no audit HMAC key (ECGREAD_AUDIT_HMAC_KEY or "
                          "ECGREAD_AUDIT_HMAC_KEY_FILE)")
