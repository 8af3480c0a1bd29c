"""The ``mysql`` checkpoint driver: tables in a schema of a MySQL-compatible server.

The tables carry the names of Lightning's (``task_v2``, ``table_v10``, ``engine_v5``, ``chunk_v6``) and
its columns where they mean the same thing here; the columns Lightning has for TiKV's key-value
encoding (row-id ranges, KV checksums, table ids) are left out, and the ones our model adds (fingerprint,
target identity, row counts, row checksums, the statement and whether a chunk finished) are added.
The order of engines and chunks is kept in ``seq`` so a table reads back exactly as it was written.

Every update is one short transaction; chunk progress is one ``UPDATE`` per chunk. Each thread gets its
own connection. Every operation can be repeated without changing its outcome, which is what makes it
safe to run it again on a fresh connection after the old one was lost.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import pymysql
from pymysql.constants import CLIENT

from airflow_provider_lightning.core.checkpoints.model import (
    ChunkCheckpoint,
    EngineCheckpoint,
    TableCheckpoint,
    TaskCheckpoint,
)
from airflow_provider_lightning.core.checkpoints.store import (
    check_chunks,
    check_status,
    check_table,
    check_task,
    missing_chunk,
    missing_engine,
    missing_table,
)
from airflow_provider_lightning.core.checksum import RowChecksum
from airflow_provider_lightning.core.errors import CheckpointError, ConfigError, TargetError
from airflow_provider_lightning.core.mysql_url import MySQLURLError, parse_mysql_url, redact_mysql_url
from airflow_provider_lightning.core.target import ConnectionSettings, connect, mysql_message
from airflow_provider_lightning.core.tls import TlsSettings, tls_from_dsn_param

log = logging.getLogger(__name__)

DEFAULT_SCHEMA = "tidb_lightning_checkpoint"

TASK_TABLE = "task_v2"
TABLE_TABLE = "table_v10"
ENGINE_TABLE = "engine_v5"
CHUNK_TABLE = "chunk_v6"

# Server errors after which the connection is gone and a new one may succeed.
_LOST_CONNECTION = frozenset({2006, 2013, 2055, 1927, 4031})
# The schema or a table was dropped behind our back (``checkpoint-remove all`` by another process).
_MISSING_SCHEMA = frozenset({1049, 1146})
# Deadlock, lock wait timeout: the transaction lost a race and can simply run again.
_CONFLICT = frozenset({1213, 1205})
_MAX_CONFLICT_RETRIES = 5

# Binary collations, so names differing only in case or accents stay apart; the first the server knows
# is used. NO PAD ones also keep trailing spaces significant.
_BINARY_COLLATIONS = ("utf8mb4_0900_bin", "utf8mb4_nopad_bin", "utf8mb4_bin")

_T = TypeVar("_T")
# What _run does when the checkpoint tables do not exist (besides returning a value a read finds there).
_CREATE = object()
_FAIL = object()


class MySQLCheckpointStore:
    """Checkpoints in database ``schema`` on the server ``settings`` reaches, created by the first write
    (reading a store that does not exist finds no checkpoints and creates nothing)."""

    def __init__(self, settings: ConnectionSettings, schema: str = DEFAULT_SCHEMA) -> None:
        if not schema or len(schema) > 64:
            raise ConfigError("checkpoint.schema", f"{schema!r} is not a database name (1 to 64 characters)")
        self.settings = settings
        self.schema = schema
        self.description = f"mysql {settings.address} {_quote(schema)}"
        self._local = threading.local()
        self._connections_lock = threading.Lock()
        self._connections: list[pymysql.connections.Connection] = []
        self._created = False  # by this object: a write that finds no tables creates them once
        self._connection()  # an unreachable server fails here, naming it, rather than at the first use

    # --- the interface --------------------------------------------------------------------------------

    def get_task(self) -> TaskCheckpoint | None:
        def read(cur) -> TaskCheckpoint | None:
            cur.execute(
                f"SELECT task_id, source_dir, backend, tidb_host, tidb_port, lightning_ver, sorted_kv_dir "
                f"FROM {self._table(TASK_TABLE)} WHERE id = 1"
            )
            row = cur.fetchone()
            if row is None:
                return None
            import_id, source, backend, host, port, version, sorted_kv_dir = row
            return TaskCheckpoint(
                import_id=import_id,
                source_url=source,
                target_host=host,
                target_port=port,
                backend=backend,
                version=version,
                sorted_kv_dir=sorted_kv_dir,
            )

        return self._run("read the task checkpoint", read, reading=True, if_missing=None)

    def put_task(self, task: TaskCheckpoint) -> None:
        check_task(task)

        def write(cur) -> None:
            cur.execute(
                f"REPLACE INTO {self._table(TASK_TABLE)} (id, task_id, source_dir, backend, importer_addr, "
                "tidb_host, tidb_port, pd_addr, sorted_kv_dir, lightning_ver) "
                "VALUES (1, %s, %s, %s, '', %s, %s, '', %s, %s)",
                (
                    task.import_id,
                    task.source_url,
                    task.backend,
                    task.target_host,
                    task.target_port,
                    task.sorted_kv_dir,
                    task.version,
                ),
            )

        self._run("save the task checkpoint", write)

    def table_names(self) -> list[str]:
        def read(cur) -> list[str]:
            cur.execute(f"SELECT table_name FROM {self._table(TABLE_TABLE)}")
            return sorted(row[0] for row in cur.fetchall())

        return self._run("list the table checkpoints", read, reading=True, if_missing=[])

    def get_table(self, name: str) -> TableCheckpoint | None:
        def read(cur) -> TableCheckpoint | None:
            cur.execute(
                "SELECT status, fingerprint, target_identity, checksum_before_rows, checksum_before_sum "
                f"FROM {self._table(TABLE_TABLE)} WHERE table_name = %s",
                (name,),
            )
            row = cur.fetchone()
            if row is None:
                return None
            status, fingerprint, target_identity, before_rows, before_sum = row
            cur.execute(
                f"SELECT engine_id, status FROM {self._table(ENGINE_TABLE)} "
                "WHERE table_name = %s ORDER BY seq",
                (name,),
            )
            engines = [(engine_id, engine_status) for engine_id, engine_status in cur.fetchall()]
            cur.execute(
                "SELECT engine_id, path, `offset`, type, compression, sort_key, file_size, columns, "
                "end_offset, pos, statement, row_count, checksum_rows, checksum_sum, finished "
                f"FROM {self._table(CHUNK_TABLE)} WHERE table_name = %s ORDER BY engine_id, seq",
                (name,),
            )
            chunks: dict[int, list[ChunkCheckpoint]] = {}
            for chunk_row in cur.fetchall():
                chunks.setdefault(chunk_row[0], []).append(_chunk_from_row(chunk_row[1:]))
            return TableCheckpoint(
                name=name,
                status=status,
                fingerprint=fingerprint,
                target_identity=target_identity,
                engines=tuple(
                    EngineCheckpoint(engine_id, engine_status, tuple(chunks.get(engine_id, ())))
                    for engine_id, engine_status in engines
                ),
                checksum_before=(
                    None if before_rows is None else RowChecksum(int(before_rows), int(before_sum))
                ),
            )

        return self._run(f"read the checkpoint of table {name}", read, reading=True, if_missing=None)

    def put_table(self, table: TableCheckpoint) -> None:
        check_table(table)
        before = table.checksum_before

        def write(cur) -> None:
            cur.execute(
                f"INSERT INTO {self._table(TABLE_TABLE)} (task_id, table_name, status, fingerprint, "
                "target_identity, checksum_before_rows, checksum_before_sum) "
                f"VALUES (COALESCE((SELECT task_id FROM {self._table(TASK_TABLE)} WHERE id = 1), 0), "
                "%s, %s, %s, %s, %s, %s) "
                "ON DUPLICATE KEY UPDATE status = VALUES(status), fingerprint = VALUES(fingerprint), "
                "target_identity = VALUES(target_identity), "
                "checksum_before_rows = VALUES(checksum_before_rows), "
                "checksum_before_sum = VALUES(checksum_before_sum)",
                (
                    table.name,
                    int(table.status),
                    table.fingerprint,
                    table.target_identity,
                    None if before is None else before.rows,
                    None if before is None else before.sum,
                ),
            )
            cur.execute(f"DELETE FROM {self._table(CHUNK_TABLE)} WHERE table_name = %s", (table.name,))
            cur.execute(f"DELETE FROM {self._table(ENGINE_TABLE)} WHERE table_name = %s", (table.name,))
            if table.engines:
                cur.executemany(
                    f"INSERT INTO {self._table(ENGINE_TABLE)} (table_name, engine_id, status, seq) "
                    "VALUES (%s, %s, %s, %s)",
                    [(table.name, e.id, int(e.status), seq) for seq, e in enumerate(table.engines)],
                )
            rows = [
                (table.name, engine.id, seq, *_chunk_key_values(chunk), *_chunk_values(chunk))
                for engine in table.engines
                for seq, chunk in enumerate(engine.chunks)
            ]
            if rows:
                cur.executemany(
                    f"INSERT INTO {self._table(CHUNK_TABLE)} (table_name, engine_id, seq, path, `offset`, "
                    "type, compression, sort_key, file_size, columns, end_offset, pos, statement, row_count, "
                    "checksum_rows, checksum_sum, finished) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )

        self._run(f"save the checkpoint of table {table.name}", write)

    def update_chunks(self, name: str, engine_id: int, chunks: Sequence[ChunkCheckpoint]) -> None:
        if not chunks:
            return
        check_chunks(name, engine_id, chunks)
        query = (
            f"UPDATE {self._table(CHUNK_TABLE)} SET type = %s, compression = %s, sort_key = %s, "
            "file_size = %s, columns = %s, end_offset = %s, pos = %s, statement = %s, row_count = %s, "
            "checksum_rows = %s, checksum_sum = %s, finished = %s "
            "WHERE table_name = %s AND engine_id = %s AND path = %s AND `offset` = %s"
        )

        def write(cur) -> None:
            for chunk in chunks:
                # The connection reports matched rows (CLIENT.FOUND_ROWS), so an unchanged chunk counts too.
                key = _chunk_key_values(chunk)
                matched = cur.execute(query, (*_chunk_values(chunk), name, engine_id, *key))
                if matched == 0:
                    raise self._what_is_missing(cur, name, engine_id, chunk.key)

        self._run(f"save the progress of table {name}", write)

    def update_status(self, name: str, status: int, *, engine_id: int | None = None) -> None:
        check_status(status, f"table {name}")

        def write(cur) -> None:
            if engine_id is None:
                matched = cur.execute(
                    f"UPDATE {self._table(TABLE_TABLE)} SET status = %s WHERE table_name = %s", (status, name)
                )
            else:
                matched = cur.execute(
                    f"UPDATE {self._table(ENGINE_TABLE)} SET status = %s "
                    "WHERE table_name = %s AND engine_id = %s",
                    (status, name, engine_id),
                )
            if matched == 0:
                raise self._what_is_missing(cur, name, engine_id, None)

        self._run(f"save the status of table {name}", write)

    def remove_table(self, name: str) -> None:
        def write(cur) -> None:
            for table in (CHUNK_TABLE, ENGINE_TABLE, TABLE_TABLE):
                cur.execute(f"DELETE FROM {self._table(table)} WHERE table_name = %s", (name,))

        self._run(f"remove the checkpoint of table {name}", write, if_missing=None)

    def remove_all(self) -> None:
        def drop(cur) -> None:
            cur.execute(f"DROP SCHEMA IF EXISTS {_quote(self.schema)}")

        # A missing schema is what we want here, not a reason to create it.
        self._run("remove all checkpoints", drop, ddl=True, if_missing=_FAIL)
        log.info("removed all checkpoints: dropped %s", self.description)

    def archive(self, import_id: int) -> str:
        """Move the checkpoint tables to database ``<schema>.<import id>.bak`` (``keep-after-success =
        "rename"``, Lightning's ``MoveCheckpoints``) and return where they went; this store is empty
        afterwards."""
        backup = f"{self.schema}.{import_id}.bak"

        def move(cur) -> None:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {_quote(backup)}")
            for table in (CHUNK_TABLE, ENGINE_TABLE, TABLE_TABLE, TASK_TABLE):
                cur.execute(f"RENAME TABLE {self._table(table)} TO {_quote(backup)}.{_quote(table)}")

        self._run(f"move the checkpoints to {_quote(backup)}", move, ddl=True)
        log.info("moved the checkpoints of %s to %s", self.description, _quote(backup))
        return f"mysql {self.settings.address} {_quote(backup)}"

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except pymysql.err.Error:
                pass  # already gone

    # --- running statements ---------------------------------------------------------------------------

    def _run(
        self,
        what: str,
        work: Callable[[Any], _T],
        *,
        reading: bool = False,
        ddl: bool = False,
        if_missing: Any = _CREATE,
    ) -> _T:
        """Run ``work`` with a cursor in one transaction (none for ``ddl``), on this thread's connection.

        A lost connection is replaced once, a deadlock retried a few times. When the checkpoint tables do
        not exist, ``if_missing`` is returned (what a read finds there), or with ``_CREATE`` they are
        created (once) and ``work`` runs again, or with ``_FAIL`` that is an error. Anything else becomes a
        :class:`CheckpointError` naming the server.
        """
        reconnected = recreated = False
        conflicts = 0
        while True:
            conn = self._connection()
            try:
                with conn.cursor() as cur:
                    if reading:
                        # One snapshot for the several SELECTs of a read (sessions default to READ COMMITTED).
                        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                    elif not ddl:
                        cur.execute("START TRANSACTION")
                    result = work(cur)
                if not ddl:
                    conn.commit()
                return result
            except pymysql.err.Error as exc:
                self._abandon(conn)
                code = _error_code(exc)
                lost = code in _LOST_CONNECTION or isinstance(exc, pymysql.err.InterfaceError)
                if lost and not reconnected:
                    log.warning(
                        "lost the connection to %s (%s); reconnecting", self.description, mysql_message(exc)
                    )
                    reconnected = True
                    continue
                if code in _MISSING_SCHEMA and if_missing is not _CREATE and if_missing is not _FAIL:
                    return if_missing
                if code in _MISSING_SCHEMA and if_missing is _CREATE and not recreated:
                    if self._created:
                        log.warning("%s: the checkpoint tables are gone; creating them again", self.description)
                    recreated = True
                    self._create_schema()
                    continue
                if code in _CONFLICT and conflicts < _MAX_CONFLICT_RETRIES:
                    conflicts += 1
                    continue
                raise CheckpointError(f"{self.description}: cannot {what}: {mysql_message(exc)}") from exc
            except BaseException:
                self._abandon(conn)
                raise

    def _connection(self) -> pymysql.connections.Connection:
        conn = getattr(self._local, "connection", None)
        if conn is not None and conn.open:
            return conn
        try:
            # FOUND_ROWS: an UPDATE reports the rows it matched, not only those it changed.
            conn = connect(self.settings, client_flag=CLIENT.FOUND_ROWS)
        except TargetError as exc:
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            raise CheckpointError(
                f"cannot connect to the checkpoint database {self.description} as '{self.settings.user}': "
                f"{mysql_message(cause)}; check [checkpoint] dsn (an empty dsn means the [tidb] server)"
            ) from exc
        try:
            with conn.cursor() as cur:
                # Refuse over-long values instead of truncating them, whatever the server's default.
                cur.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")
                try:
                    # Gap locks of REPEATABLE READ make concurrent saves of different tables deadlock.
                    cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                except pymysql.err.MySQLError as exc:
                    log.debug("%s keeps its isolation level: %s", self.description, mysql_message(exc))
        except pymysql.err.Error as exc:
            conn.close()
            raise CheckpointError(
                f"cannot set up the connection to the checkpoint database {self.description}: "
                f"{mysql_message(exc)}"
            ) from exc
        self._local.connection = conn
        with self._connections_lock:
            self._connections = [c for c in self._connections if c.open]
            self._connections.append(conn)
        return conn

    def _abandon(self, conn: pymysql.connections.Connection) -> None:
        """Roll back whatever the failed attempt left open; drop the connection if that fails too."""
        if not conn.open:
            return
        try:
            conn.rollback()
        except pymysql.err.Error:
            try:
                conn.close()
            except pymysql.err.Error:
                pass

    def _create_schema(self) -> None:
        def create(cur) -> None:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {_quote(self.schema)}")
            cur.execute(
                "SELECT COLLATION_NAME FROM information_schema.COLLATIONS "
                "WHERE COLLATION_NAME IN (%s, %s, %s)",
                _BINARY_COLLATIONS,
            )
            known = {row[0] for row in cur.fetchall()}
            collation = next((c for c in _BINARY_COLLATIONS if c in known), "utf8mb4_bin")
            for statement in _create_table_statements(self.schema, collation):
                cur.execute(statement)

        self._run("create the checkpoint tables", create, ddl=True, if_missing=_FAIL)
        self._created = True

    def _table(self, table: str) -> str:
        return f"{_quote(self.schema)}.{_quote(table)}"

    def _what_is_missing(
        self, cur, name: str, engine_id: int | None, chunk_key: str | None
    ) -> CheckpointError:
        """The error for an update that matched no row: which of table, engine or chunk is missing."""
        cur.execute(f"SELECT 1 FROM {self._table(TABLE_TABLE)} WHERE table_name = %s", (name,))
        if cur.fetchone() is None:
            return missing_table(self, name)
        if engine_id is not None:
            cur.execute(
                f"SELECT 1 FROM {self._table(ENGINE_TABLE)} WHERE table_name = %s AND engine_id = %s",
                (name, engine_id),
            )
            if cur.fetchone() is None:
                return missing_engine(name, engine_id)
        if engine_id is not None and chunk_key is not None:
            return missing_chunk(name, engine_id, chunk_key)
        return missing_table(self, name)


def _create_table_statements(schema: str, collation: str) -> list[str]:
    options = f"DEFAULT CHARSET = utf8mb4 COLLATE = {collation}"
    times = (
        "create_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, "
        "update_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"
    )
    name = f"{_quote(schema)}."
    return [
        f"CREATE TABLE IF NOT EXISTS {name}{TASK_TABLE} ("
        "id tinyint(1) PRIMARY KEY, "
        "task_id bigint NOT NULL, "
        "source_dir varchar(2048) NOT NULL, "
        "backend varchar(64) NOT NULL, "
        "importer_addr varchar(256), "
        "tidb_host varchar(128) NOT NULL, "
        "tidb_port int NOT NULL, "
        "pd_addr varchar(128) NOT NULL, "
        "sorted_kv_dir varchar(256) NOT NULL, "
        "lightning_ver varchar(48) NOT NULL"
        f") {options}",
        f"CREATE TABLE IF NOT EXISTS {name}{TABLE_TABLE} ("
        "task_id bigint NOT NULL, "
        "table_name varchar(261) NOT NULL PRIMARY KEY, "
        "status tinyint unsigned NOT NULL DEFAULT 30, "
        "fingerprint varchar(255) NOT NULL DEFAULT '', "
        "target_identity varchar(255) NOT NULL DEFAULT '', "
        "checksum_before_rows bigint NULL, "
        "checksum_before_sum bigint unsigned NULL, "
        f"{times}, "
        "INDEX(task_id)"
        f") {options}",
        f"CREATE TABLE IF NOT EXISTS {name}{ENGINE_TABLE} ("
        "table_name varchar(261) NOT NULL, "
        "engine_id int NOT NULL, "
        "status tinyint unsigned NOT NULL DEFAULT 30, "
        "seq int NOT NULL DEFAULT 0, "
        f"{times}, "
        "PRIMARY KEY(table_name, engine_id DESC)"
        f") {options}",
        f"CREATE TABLE IF NOT EXISTS {name}{CHUNK_TABLE} ("
        "table_name varchar(261) NOT NULL, "
        "engine_id int NOT NULL, "
        "seq int NOT NULL DEFAULT 0, "
        "path varchar(2048) NOT NULL, "
        "`offset` bigint NOT NULL, "
        "type int NOT NULL, "
        "compression int NOT NULL, "
        "sort_key varchar(256) NOT NULL, "
        "file_size bigint NOT NULL, "
        "columns mediumtext NULL, "
        "end_offset bigint NOT NULL, "
        "pos bigint NOT NULL, "
        "statement varchar(64) NOT NULL DEFAULT 'INSERT', "
        "row_count bigint NOT NULL DEFAULT 0, "
        "checksum_rows bigint NOT NULL DEFAULT 0, "
        "checksum_sum bigint unsigned NOT NULL DEFAULT 0, "
        "finished bool NOT NULL DEFAULT FALSE, "
        f"{times}, "
        "PRIMARY KEY(table_name, engine_id, path(500), `offset`)"
        f") {options}",
    ]


def _chunk_key_values(chunk: ChunkCheckpoint) -> tuple[Any, ...]:
    return (chunk.path, chunk.offset)


def _chunk_values(chunk: ChunkCheckpoint) -> tuple[Any, ...]:
    """The chunk's columns after its key, in the order of the INSERT and UPDATE statements."""
    return (
        chunk.type,
        chunk.compression,
        chunk.sort_key,
        chunk.file_size,
        json.dumps(list(chunk.columns)) if chunk.columns is not None else None,
        chunk.end_offset,
        chunk.pos,
        chunk.statement,
        chunk.rows,
        chunk.checksum.rows,
        chunk.checksum.sum,
        chunk.finished,
    )


def _chunk_from_row(row: Sequence[Any]) -> ChunkCheckpoint:
    (path, offset, type_, compression, sort_key, file_size, columns, end_offset, pos, statement,
     row_count, checksum_rows, checksum_sum, finished) = row
    return ChunkCheckpoint(
        path=path,
        offset=offset,
        end_offset=end_offset,
        pos=pos,
        type=type_,
        compression=compression,
        sort_key=sort_key,
        file_size=file_size,
        columns=tuple(json.loads(columns)) if columns is not None else None,
        statement=statement,
        rows=row_count,
        checksum=RowChecksum(int(checksum_rows), int(checksum_sum)),
        finished=bool(finished),
    )


def _quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def _error_code(exc: BaseException) -> int | None:
    code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


# --- DSNs ---------------------------------------------------------------------------------------------


def parse_mysql_dsn(dsn: str) -> ConnectionSettings:
    """The server a ``[checkpoint] dsn`` names: Lightning's Go form ``user:pass@tcp(host:port)/``, or a
    ``mysql://user:pass@host:port`` URL. ``?tls=true|skip-verify|preferred|false`` turns on TLS; other
    parameters are ignored."""
    text = dsn.strip()
    if text.startswith("mysql://"):
        return _parse_url_dsn(text)
    return _parse_go_dsn(text)


def _parse_url_dsn(dsn: str) -> ConnectionSettings:
    try:
        parts = parse_mysql_url(dsn)
    except MySQLURLError as exc:
        raise _bad_dsn(dsn, str(exc)) from None
    return ConnectionSettings(
        host=parts.host,
        port=parts.port or 3306,
        user=parts.user if parts.user is not None else "root",
        password=parts.password or "",
        tls=_tls(dict(parse_qsl(parts.query))),
    )


def _parse_go_dsn(dsn: str) -> ConnectionSettings:
    # [user[:password]@][tcp[(address)]]/[dbname][?params] — the password may itself hold '@' and ':', so
    # the user part ends at the last '@' before the last '/'.
    base, _, query = dsn.partition("?")
    slash = base.rfind("/")
    if slash < 0:
        raise _bad_dsn(dsn, "it needs a '/' after the address, as in 'user:password@tcp(host:port)/'")
    head = base[:slash]
    at = head.rfind("@")
    user_info, address = (head[:at], head[at + 1:]) if at >= 0 else ("", head)
    user, _, password = user_info.partition(":")
    protocol, paren, rest = address.partition("(")
    if paren and not rest.endswith(")"):
        raise _bad_dsn(dsn, "the address is missing its closing ')'")
    if protocol not in ("", "tcp"):
        raise _bad_dsn(dsn, f"protocol '{protocol}' is not supported; use tcp(host:port)")
    host, port = _host_port(rest[:-1] if paren else "", dsn)
    return ConnectionSettings(
        host=host, port=port, user=user, password=password, tls=_tls(dict(parse_qsl(query)))
    )


def _host_port(address: str, dsn: str) -> tuple[str, int]:
    if not address:
        return "127.0.0.1", 3306
    if address.startswith("["):  # [::1]:4000
        close = address.find("]")
        if close < 0:
            raise _bad_dsn(dsn, "the IPv6 address is missing its closing ']'")
        host, port_text = address[1:close], address[close + 1:].removeprefix(":")
    elif address.count(":") == 1:
        host, port_text = address.split(":")
    else:
        host, port_text = address, ""
    if not port_text:
        return host or "127.0.0.1", 3306
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _bad_dsn(dsn, f"port '{port_text}' is not a number from 1 to 65535")
    return host or "127.0.0.1", int(port_text)


def _tls(params: dict[str, str]) -> TlsSettings:
    return tls_from_dsn_param(params.get("tls", "false"), where="checkpoint.dsn")


def _bad_dsn(dsn: str, why: str) -> ConfigError:
    return ConfigError("checkpoint.dsn", f"cannot read the MySQL DSN {_redact(dsn)!r}: {why}")


def _redact(dsn: str) -> str:
    """The DSN with its password replaced, for messages."""
    if dsn.startswith("mysql://"):
        return redact_mysql_url(dsn)
    head = dsn.partition("?")[0]
    slash = head.rfind("/")
    at = head.rfind("@", 0, slash if slash >= 0 else len(head))
    colon = dsn.find(":", 0, at)
    if at < 0 or colon < 0:
        return dsn
    return f"{dsn[:colon]}:******{dsn[at:]}"
