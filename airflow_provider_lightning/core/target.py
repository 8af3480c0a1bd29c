"""The target database: connecting to it, what kind of server it is, what its tables look like.

Everything that reads the target's catalogue lives here, so the rest of the engine works with plain
values (:class:`ServerFacts`, :class:`ServerVersion`, :class:`TableInfo`) and never parses
``information_schema`` rows itself.
"""

from __future__ import annotations

import enum
import logging
import re
import ssl
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pymysql
from pymysql.constants import CLIENT, FIELD_TYPE

from airflow_provider_lightning.core.errors import TargetError
from airflow_provider_lightning.core.tls import TlsSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """How to reach the target (``[tidb]`` in the config, or an Airflow connection)."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = field(default="", repr=False)
    tls: TlsSettings = TlsSettings()  # built by core/tls.py from the config or the Airflow connection
    connect_timeout: float = 10.0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def connect(
    settings: ConnectionSettings, *, database: str | None = None, binary: bool = False, **kwargs: Any
):
    """A pymysql connection (autocommit on), with TLS as ``settings.tls`` asks.

    ``binary=True`` is the data path: the session runs ``SET NAMES binary`` — as mydumper's files ask —
    so values travel as the bytes in the dump and are never re-encoded, and results come back as bytes.
    Otherwise the connection speaks utf8mb4 text, for catalogue queries.

    Every connection of the package comes from here, so TLS cannot be forgotten: where it is required, a
    server that does not offer it is refused before the user name is sent, and the session's
    ``Ssl_cipher`` is checked once connected.
    """
    if binary:
        kwargs.setdefault("init_command", "SET NAMES binary")
        kwargs.setdefault("conv", _BINARY_CONVERSIONS)
    tls = settings.tls
    try:
        conn = _TlsConnection(
            host=settings.host,
            port=settings.port,
            user=settings.user,
            password=settings.password,
            database=database,
            charset="utf8mb4",
            use_unicode=not binary,
            autocommit=True,
            ssl=tls.ssl_context(),
            connect_timeout=settings.connect_timeout,
            local_infile=False,
            tls=tls,
            **kwargs,
        )
    except pymysql.err.OperationalError as exc:
        cause = getattr(exc, "original_exception", None)
        if isinstance(cause, ssl.SSLError):
            raise TargetError(_tls_failure(settings, cause)) from None
        raise TargetError(
            f"cannot connect to the target database at {settings.address} as '{settings.user}': "
            f"{_mysql_message(exc)}; check [tidb] host, port, user and password (or the Airflow connection)"
        ) from exc
    if tls.enabled:
        _check_cipher(conn, settings)
    return conn


class _TlsConnection(pymysql.connections.Connection):
    """PyMySQL's connection, except that it never authenticates in plaintext when TLS is required.

    PyMySQL starts TLS only when the server's greeting offers it and otherwise carries on in the clear,
    which lets anyone between client and server downgrade the session. The greeting arrives before the
    client says anything, so refusing here sends neither the user name nor a query.
    """

    def __init__(self, *args: Any, tls: TlsSettings, **kwargs: Any) -> None:
        self._tls_settings = tls
        self.ssl_cipher = ""  # as the server reports it (Ssl_cipher), once connected with TLS asked for
        super().__init__(*args, **kwargs)

    def _request_authentication(self) -> None:
        if self._tls_settings.required and not self.server_capabilities & CLIENT.SSL:
            raise TargetError(
                f"the target database at {self.host}:{self.port} does not offer TLS, but "
                f"{self._tls_settings.describe()} requires it; nothing was sent (no user name, no query). "
                "Enable TLS on the server (ssl-cert / ssl-key), or ask for it only if offered "
                '(tidb.tls = "preferred", ssl_mode PREFERRED)'
            )
        super()._request_authentication()


def _check_cipher(conn: Any, settings: ConnectionSettings) -> None:
    """Ask the server whether this session is encrypted: required TLS is proven, preferred TLS logged."""
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row = cur.fetchone()
    cipher = as_text(row[1]) if row else ""
    conn.ssl_cipher = cipher
    if cipher:
        log.debug("TLS to %s: %s (%s)", settings.address, cipher, settings.tls.describe())
        return
    if settings.tls.required:
        conn.close()
        raise TargetError(
            f"the session with the target database at {settings.address} is not encrypted (Ssl_cipher is "
            f"empty) although {settings.tls.describe()} requires TLS; refusing to go on"
        )
    # Once per connection, so DEBUG: prepare reports it at INFO for the import (connection_security).
    log.debug(
        "the target database at %s does not offer TLS: this connection is in plaintext (%s)",
        settings.address, settings.tls.describe(),
    )


def connection_security(conn: Any) -> str:
    """How a connection from :func:`connect` travels, for the log: ``'TLS (cipher ...)'`` as the server
    reported it, or ``'plaintext'`` (and why)."""
    tls = getattr(conn, "_tls_settings", TlsSettings())
    cipher = getattr(conn, "ssl_cipher", "")
    if cipher:
        return f"TLS (cipher {cipher}; {tls.describe()})"
    if tls.enabled:
        return f"plaintext: the server does not offer TLS ({tls.describe()})"
    return "plaintext (TLS not asked for)"


def _tls_failure(settings: ConnectionSettings, exc: ssl.SSLError) -> str:
    tls = settings.tls
    reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
    message = f"TLS with the target database at {settings.address} failed ({tls.describe()}): {reason}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        if "hostname" in str(reason).lower() or "ip address mismatch" in str(reason).lower():
            return (
                f"{message}; the server's certificate does not name '{settings.host}': connect by a name the "
                "certificate lists, or verify the CA only (ssl_mode VERIFY_CA)"
            )
        ca = tls.ca_path or tls.ca_dir or "the system's trust store"
        return f"{message}; the server's certificate is not signed by the CA in {ca}: check the CA file"
    return f"{message}; check the server's TLS setup and the client certificate and key"


def _decimal_from_bytes(value: bytes | str) -> Decimal:
    return Decimal(value.decode("ascii") if isinstance(value, (bytes, bytearray)) else value)


# pymysql's DECIMAL converter cannot take the bytes a use_unicode=False connection returns.
_BINARY_CONVERSIONS = {
    **pymysql.converters.conversions,
    FIELD_TYPE.DECIMAL: _decimal_from_bytes,
    FIELD_TYPE.NEWDECIMAL: _decimal_from_bytes,
}


def _mysql_message(exc: BaseException) -> str:
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) >= 2:
        msg = exc.args[1]
        return msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
    return str(exc)


mysql_message = _mysql_message


class ServerFlavor(enum.Enum):
    MYSQL = "mysql"
    MARIADB = "mariadb"
    TIDB = "tidb"


@dataclass(frozen=True, slots=True)
class ServerVersion:
    """The target's product and version: ``version`` is the product's own (TiDB's ``v7.5.0`` -> (7, 5, 0)).

    What schema rewriting needs to know; :class:`ServerFacts` holds it with the rest of what ``prepare``
    reads from the server.
    """

    flavor: ServerFlavor
    version: tuple[int, ...]

    @classmethod
    def from_version_string(cls, version: str) -> ServerVersion:
        """Reads ``SELECT VERSION()``: ``10.11.19-MariaDB-0+deb12u1``, ``8.0.36``, ``8.0.11-TiDB-v7.5.0``."""
        flavor, parts = parse_server_version(version.strip())
        if not parts:
            raise TargetError(
                f"cannot read the server's version from {version!r}: expected what SELECT VERSION() returns, "
                "such as '8.0.36', '10.11.19-MariaDB' or '8.0.11-TiDB-v7.5.0'"
            )
        return cls(flavor, parts)

    @property
    def version_number(self) -> int:
        """The version as executable comments write it: 10.11.19 -> 101119, 8.0.16 -> 80016."""
        major, minor, patch = (*self.version, 0, 0, 0)[:3]
        return major * 10000 + minor * 100 + patch

    def __str__(self) -> str:
        return f"{self.flavor.value} {'.'.join(str(p) for p in self.version)}"


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What ``prepare`` reads from the target once (version, modes, limits, charsets), passed on to later
    steps in the prepared import; :attr:`server_version` is the part schema rewriting needs."""

    version: str
    flavor: ServerFlavor
    version_tuple: tuple[int, ...]
    sql_mode: str
    max_allowed_packet: int
    character_set_server: str
    collation_server: str
    lower_case_table_names: int = 0

    @property
    def server_version(self) -> ServerVersion:
        return ServerVersion(self.flavor, self.version_tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "flavor": self.flavor.value,
            "version_tuple": list(self.version_tuple),
            "sql_mode": self.sql_mode,
            "max_allowed_packet": self.max_allowed_packet,
            "character_set_server": self.character_set_server,
            "collation_server": self.collation_server,
            "lower_case_table_names": self.lower_case_table_names,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerFacts:
        return cls(
            version=data["version"],
            flavor=ServerFlavor(data["flavor"]),
            version_tuple=tuple(data["version_tuple"]),
            sql_mode=data["sql_mode"],
            max_allowed_packet=data["max_allowed_packet"],
            character_set_server=data["character_set_server"],
            collation_server=data["collation_server"],
            lower_case_table_names=data.get("lower_case_table_names", 0),
        )


def parse_server_version(version: str) -> tuple[ServerFlavor, tuple[int, ...]]:
    """``'10.11.19-MariaDB-0+deb12u1'`` -> (MARIADB, (10, 11, 19)); TiDB reports its own version after ``-TiDB-v``."""
    if version.startswith("5.5.5-") and "mariadb" in version.lower():
        version = version[len("5.5.5-") :]  # what MariaDB prefixes for clients that expect MySQL 5
    tidb = re.search(r"-TiDB-v?(\d+(?:\.\d+)*)", version, re.IGNORECASE)
    if tidb:
        return ServerFlavor.TIDB, tuple(int(p) for p in tidb.group(1).split("."))
    numbers = re.match(r"(\d+(?:\.\d+)*)", version)
    parts = tuple(int(p) for p in numbers.group(1).split(".")) if numbers else ()
    if "mariadb" in version.lower():
        return ServerFlavor.MARIADB, parts
    return ServerFlavor.MYSQL, parts


def read_server_facts(conn) -> ServerFacts:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT VERSION(), @@GLOBAL.sql_mode, @@GLOBAL.max_allowed_packet, @@character_set_server, "
            "@@collation_server, @@lower_case_table_names"
        )
        version, sql_mode, packet, charset, collation, lctn = cur.fetchone()
    version = _text(version)
    flavor, parts = parse_server_version(version)
    return ServerFacts(
        version=version,
        flavor=flavor,
        version_tuple=parts,
        sql_mode=_text(sql_mode),
        max_allowed_packet=int(packet),
        character_set_server=_text(charset),
        collation_server=_text(collation),
        lower_case_table_names=int(lctn or 0),
    )


def as_text(value: Any) -> str:
    """A catalogue value as text: connections in binary mode return bytes, others str; NULL is ""."""
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


_text = as_text


# --- tables -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """A column of a target table, as ``information_schema.COLUMNS`` describes it."""

    name: str
    data_type: str  # lower-case base type: 'int', 'decimal', 'varchar', 'timestamp', ...
    column_type: str  # the full type: 'int(10) unsigned', "enum('a','b')", 'decimal(10,3)'
    nullable: bool = True
    numeric_precision: int | None = None
    numeric_scale: int | None = None
    datetime_precision: int | None = None
    char_max_length: int | None = None
    octet_max_length: int | None = None
    charset: str | None = None
    collation: str | None = None
    default: str | None = None
    generated: bool = False
    auto_increment: bool = False

    @property
    def unsigned(self) -> bool:
        return "unsigned" in self.column_type.lower()

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnInfo:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True, slots=True)
class TableInfo:
    schema: str
    name: str
    columns: tuple[ColumnInfo, ...]
    engine: str = ""
    create_time: str = ""
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = ()
    is_view: bool = False

    def column(self, name: str) -> ColumnInfo | None:
        lower = name.lower()
        for c in self.columns:
            if c.name.lower() == lower:
                return c
        return None

    @property
    def insertable_columns(self) -> tuple[ColumnInfo, ...]:
        return tuple(c for c in self.columns if not c.generated)

    @property
    def has_unique_key(self) -> bool:
        return bool(self.primary_key or self.unique_keys)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "name": self.name,
            "columns": [c.to_json() for c in self.columns],
            "engine": self.engine,
            "create_time": self.create_time,
            "primary_key": list(self.primary_key),
            "unique_keys": [list(k) for k in self.unique_keys],
            "is_view": self.is_view,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableInfo:
        return cls(
            schema=data["schema"],
            name=data["name"],
            columns=tuple(ColumnInfo.from_json(c) for c in data["columns"]),
            engine=data.get("engine", ""),
            create_time=data.get("create_time", ""),
            primary_key=tuple(data.get("primary_key", ())),
            unique_keys=tuple(tuple(k) for k in data.get("unique_keys", ())),
            is_view=data.get("is_view", False),
        )


def fetch_table_info(conn, schema: str, table: str) -> TableInfo | None:
    """The target table's columns and keys, or None if it does not exist."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT ENGINE, CAST(CREATE_TIME AS CHAR), TABLE_TYPE FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (schema, table),
        )
        row = cur.fetchone()
        if row is None:
            return None
        engine, create_time, table_type = (_text(v) for v in row)
        cur.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE, "
            "DATETIME_PRECISION, CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, CHARACTER_SET_NAME, "
            "COLLATION_NAME, COLUMN_DEFAULT, EXTRA "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
            "ORDER BY ORDINAL_POSITION",
            (schema, table),
        )
        columns = []
        for (name, data_type, column_type, nullable, prec, scale, dt_prec, char_len, octet_len,
             charset, collation, default, extra) in cur.fetchall():
            extra_text = _text(extra).lower()
            columns.append(
                ColumnInfo(
                    name=_text(name),
                    data_type=_text(data_type).lower(),
                    column_type=_text(column_type),  # ENUM/SET members keep their case
                    nullable=_text(nullable) == "YES",
                    numeric_precision=_int_or_none(prec),
                    numeric_scale=_int_or_none(scale),
                    datetime_precision=_int_or_none(dt_prec),
                    char_max_length=_int_or_none(char_len),
                    octet_max_length=_int_or_none(octet_len),
                    charset=_text(charset) or None,
                    collation=_text(collation) or None,
                    default=None if default is None else _text(default),
                    generated="generated" in extra_text or "virtual" in extra_text or "persistent" in extra_text
                    or "stored" in extra_text,
                    auto_increment="auto_increment" in extra_text,
                )
            )
        cur.execute(
            "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND NON_UNIQUE = 0 "
            "ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (schema, table),
        )
        keys: dict[str, list[str]] = {}
        for index_name, column_name in cur.fetchall():
            keys.setdefault(_text(index_name), []).append(_text(column_name))
    primary = tuple(keys.pop("PRIMARY", ()))
    return TableInfo(
        schema=schema,
        name=table,
        columns=tuple(columns),
        engine=engine,
        create_time=create_time,
        primary_key=primary,
        unique_keys=tuple(tuple(v) for _, v in sorted(keys.items())),
        is_view=table_type == "VIEW",
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
