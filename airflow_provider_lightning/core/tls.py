"""TLS to the target: what the user asked for, in one place, and the SSL context that does it.

Two vocabularies ask for TLS and both end here, so they cannot drift apart:

- Lightning's ``[tidb] tls`` with ``[security]`` (or ``[tidb.security]``) ``ca-path`` / ``cert-path`` /
  ``key-path`` — :func:`tls_from_lightning`;
- an Airflow ``mysql`` connection's extras ``ssl`` (a dict, or its JSON) and ``ssl_mode`` as the mysql
  provider documents them — :func:`tls_from_mysql_extras`.

Both become a :class:`TlsSettings` whose :class:`TlsMode` is one of MySQL's ``--ssl-mode`` values, which
say exactly what is checked:

=================  ==========================  =================================================
mode               Lightning ``tidb.tls``      what a connection does
=================  ==========================  =================================================
DISABLED           ``"false"``, ``""`` no CA   plaintext
PREFERRED          ``"preferred"``             TLS (unverified) when the server offers it, else
                                               plaintext; the log says which
REQUIRED           ``"skip-verify"``           TLS or no connection; the certificate is not checked
VERIFY_CA          —                           TLS, the server's chain checked against the CA
VERIFY_IDENTITY    ``"cluster"``, ``""`` + CA  TLS, the chain and the host name checked
=================  ==========================  =================================================

Where TLS is required, ``core/target.py`` refuses a server that does not offer it *before* the client
sends its user name (PyMySQL alone would carry on in plaintext), and checks ``Ssl_cipher`` once connected.
"""

from __future__ import annotations

import enum
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_lightning.core.errors import ConfigError, TargetError

LIGHTNING_TLS_VALUES = ("", "false", "cluster", "skip-verify", "preferred")


class TlsMode(enum.Enum):
    DISABLED = "DISABLED"
    PREFERRED = "PREFERRED"
    REQUIRED = "REQUIRED"
    VERIFY_CA = "VERIFY_CA"
    VERIFY_IDENTITY = "VERIFY_IDENTITY"


MYSQL_SSL_MODES = tuple(mode.value for mode in TlsMode)

_LIGHTNING_MODES = {
    "cluster": TlsMode.VERIFY_IDENTITY,
    "skip-verify": TlsMode.REQUIRED,
    "preferred": TlsMode.PREFERRED,
}

# The keys of the mysql provider's ``ssl`` extra (mysqlclient's mysql_ssl_set() names) this loader honours.
_SSL_EXTRA_KEYS = ("ca", "capath", "cert", "key", "cipher", "check_hostname")


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """How a connection to the target uses TLS. ``asked_by`` names the setting, for messages."""

    mode: TlsMode = TlsMode.DISABLED
    ca_path: str = ""
    ca_dir: str = ""
    cert_path: str = ""
    key_path: str = ""
    cipher: str = ""
    asked_by: str = ""

    @property
    def enabled(self) -> bool:
        return self.mode is not TlsMode.DISABLED

    @property
    def required(self) -> bool:
        """A connection without TLS must be refused (everything but DISABLED and PREFERRED)."""
        return self.mode in (TlsMode.REQUIRED, TlsMode.VERIFY_CA, TlsMode.VERIFY_IDENTITY)

    @property
    def verifies_chain(self) -> bool:
        return self.mode in (TlsMode.VERIFY_CA, TlsMode.VERIFY_IDENTITY)

    def describe(self) -> str:
        """``'TLS VERIFY_IDENTITY (tidb.tls = "cluster")'``: what was asked, for log lines and errors."""
        return f"TLS {self.mode.value}" + (f" ({self.asked_by})" if self.asked_by else "")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The context a connection wraps its socket in (None for DISABLED).

        Unreadable CA, certificate or key files raise :class:`TargetError` naming the file and the setting.
        """
        if not self.enabled:
            return None
        # A bare context, not create_default_context(): Python 3.13 adds VERIFY_X509_STRICT there, which
        # refuses the certificates mysql_ssl_rsa_setup and many servers make.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.verifies_chain:
            ctx.check_hostname = self.mode is TlsMode.VERIFY_IDENTITY
            ctx.verify_mode = ssl.CERT_REQUIRED
            if self.ca_path or self.ca_dir:
                cafile, capath = self.ca_path or None, self.ca_dir or None
                _load(
                    lambda: ctx.load_verify_locations(cafile=cafile, capath=capath), cafile or capath, "CA", self
                )
            else:
                ctx.load_default_certs()  # no CA given: the system's trust store (public clouds)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_path:
            _load(lambda: ctx.load_cert_chain(self.cert_path, keyfile=self.key_path or None),
                  self.cert_path, "client certificate", self)
        if self.cipher:
            try:
                ctx.set_ciphers(self.cipher)
            except ssl.SSLError as exc:
                raise TargetError(f"{self.describe()}: no usable cipher in {self.cipher!r}: {exc}") from None
        return ctx


def _load(action: Any, path: str, what: str, settings: TlsSettings) -> None:
    try:
        action()
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise TargetError(
            f"cannot read the {what} file {path!r} asked for by {settings.asked_by or 'the TLS settings'}: "
            f"{reason}; check the path and that it holds PEM data"
        ) from None


def tls_from_lightning(
    tls: str, *, ca_path: str = "", cert_path: str = "", key_path: str = ""
) -> TlsSettings:
    """Lightning's ``tidb.tls`` with the ``[tidb.security]`` paths.

    As in Lightning: ``""`` means ``"cluster"`` when a CA is given and ``"false"`` otherwise; ``"cluster"``
    needs a CA; ``"false"`` ignores the paths. ``"skip-verify"`` and ``"preferred"`` still present a client
    certificate when one is given.
    """
    value = (tls or "").strip().lower()
    if value not in LIGHTNING_TLS_VALUES:
        allowed = ", ".join(map(repr, LIGHTNING_TLS_VALUES))
        raise ConfigError("tidb.tls", f"unsupported TLS mode {tls!r}; allowed: {allowed}")
    if value == "":
        value = "cluster" if ca_path else "false"
        asked_by = "security.ca-path" if ca_path else ""
    else:
        asked_by = f'tidb.tls = "{value}"'
    if value == "false":
        return TlsSettings(asked_by=asked_by)
    if value == "cluster" and not ca_path:
        raise ConfigError(
            "tidb.tls", "'cluster' needs a CA: set security.ca-path (or tidb.security.ca-path)"
        )
    mode = _LIGHTNING_MODES[value]
    return TlsSettings(
        mode=mode,
        ca_path=ca_path if mode is TlsMode.VERIFY_IDENTITY else "",
        cert_path=cert_path,
        key_path=key_path,
        asked_by=asked_by,
    )


def tls_from_mysql_extras(ssl_extra: Any, ssl_mode: Any, *, where: str = "connection") -> TlsSettings:
    """An Airflow ``mysql`` connection's ``ssl`` and ``ssl_mode`` extras.

    ``ssl_mode`` is used as written (case-insensitive). Without it: an ``ssl`` with a CA means
    VERIFY_IDENTITY (VERIFY_CA with ``"check_hostname": false``), an ``ssl`` with only a client certificate
    REQUIRED, and no ``ssl`` at all DISABLED. ``ssl`` may be a dict, its JSON, or a bare CA path.
    """
    options = _ssl_extra_dict(ssl_extra, where)
    unknown = sorted(set(options) - set(_SSL_EXTRA_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}.extra.ssl",
            f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(_SSL_EXTRA_KEYS)}",
        )
    text = {k: str(options[k]) for k in ("ca", "capath", "cert", "key", "cipher") if options.get(k)}
    check_hostname = _optional_bool(options.get("check_hostname"), f"{where}.extra.ssl.check_hostname")
    has_ca = bool(text.get("ca") or text.get("capath"))

    if ssl_mode is None or str(ssl_mode).strip() == "":
        if has_ca:
            mode = TlsMode.VERIFY_CA if check_hostname is False else TlsMode.VERIFY_IDENTITY
        elif options:
            mode = TlsMode.REQUIRED
        else:
            mode = TlsMode.DISABLED
        asked_by = f"{where} extra ssl" if options else ""
    else:
        name = str(ssl_mode).strip().upper()
        if name not in MYSQL_SSL_MODES:
            raise ConfigError(
                f"{where}.extra.ssl_mode",
                f"unknown SSL mode {str(ssl_mode)!r}; allowed: {', '.join(MYSQL_SSL_MODES)}",
            )
        mode = TlsMode(name)
        asked_by = f"{where} ssl_mode {name}"
        if (check_hostname is False and mode is TlsMode.VERIFY_IDENTITY) or (
            check_hostname and mode is TlsMode.VERIFY_CA
        ):
            raise ConfigError(
                f"{where}.extra.ssl.check_hostname",
                f"contradicts ssl_mode {name}; drop check_hostname (VERIFY_IDENTITY checks the host name, "
                "VERIFY_CA does not)",
            )
    if mode is TlsMode.DISABLED:
        return TlsSettings(asked_by=asked_by)
    return TlsSettings(
        mode=mode,
        ca_path=text.get("ca", ""),
        ca_dir=text.get("capath", ""),
        cert_path=text.get("cert", ""),
        key_path=text.get("key", ""),
        cipher=text.get("cipher", ""),
        asked_by=asked_by,
    )


def tls_from_dsn_param(value: str, *, where: str) -> TlsSettings:
    """The ``?tls=`` parameter of a Go-style DSN (``[checkpoint] dsn``), as go-sql-driver reads it:
    ``true`` verifies against the system's CAs, ``skip-verify`` does not verify, ``preferred`` falls back
    to plaintext, ``false`` is plaintext."""
    name = value.strip().lower()
    modes = {"": TlsMode.DISABLED, "false": TlsMode.DISABLED, "true": TlsMode.VERIFY_IDENTITY,
             "skip-verify": TlsMode.REQUIRED, "preferred": TlsMode.PREFERRED}
    if name not in modes:
        raise ConfigError(
            where, f"tls={value} is not supported; use tls=true, skip-verify, preferred or false"
        )
    if modes[name] is TlsMode.DISABLED:
        return TlsSettings()
    return TlsSettings(mode=modes[name], asked_by=f"{where} tls={name}")


def _ssl_extra_dict(value: Any, where: str) -> dict[str, Any]:
    if value is None or value == "" or value is False:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ConfigError(
                    f"{where}.extra.ssl", f"is not valid JSON ({exc.msg} at {exc.pos})"
                ) from None
        else:
            return {"ca": text}  # a bare path: the CA, as the mysql provider's older docs show
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}.extra.ssl",
            f'expected a dict such as {{"ca": "/path/ca.pem"}}, got {type(value).__name__}',
        )
    return dict(value)


def _optional_bool(value: Any, key: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConfigError(key, f"expected true or false, got {str(value)!r}")
