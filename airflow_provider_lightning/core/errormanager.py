"""The error manager: rows that could not be imported, recorded in the target's task-info schema.

As in Lightning, the schema (``[lightning] task-info-schema-name``, default ``lightning_task_info``) holds
``type_error_v1`` (a value the target column rejects), ``syntax_error_v1`` (a row the parser cannot read)
and ``conflict_records`` (rows that collided on a unique key), with Lightning's column names, so the
queries Lightning users know keep working.

Two things differ, both for exactness across crashes and across Airflow workers:
- error rows are written **inside the transaction of the batch they come from**, so a batch that is
  retried after a crash never records its errors twice;
- the ``max-error`` budget is counted in a row of ``error_counts_v1`` that each such transaction
  updates (and so locks) — exact even when many processes import tables of one task at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from airflow_provider_lightning.core.identifiers import quote_identifier
from airflow_provider_lightning.core.errors import LightningError

log = logging.getLogger(__name__)

TYPE_ERROR_TABLE = "type_error_v1"
SYNTAX_ERROR_TABLE = "syntax_error_v1"
CONFLICT_TABLE = "conflict_records"
COUNTS_TABLE = "error_counts_v1"

_CREATE_TABLES = {
    SYNTAX_ERROR_TABLE: """
        CREATE TABLE IF NOT EXISTS {schema}.syntax_error_v1 (
            task_id     bigint NOT NULL,
            create_time datetime(6) NOT NULL DEFAULT now(6),
            table_name  varchar(261) NOT NULL,
            path        varchar(2048) NOT NULL,
            `offset`    bigint NOT NULL,
            error       text NOT NULL,
            context     text,
            KEY (task_id, table_name)
        )""",
    TYPE_ERROR_TABLE: """
        CREATE TABLE IF NOT EXISTS {schema}.type_error_v1 (
            task_id     bigint NOT NULL,
            create_time datetime(6) NOT NULL DEFAULT now(6),
            table_name  varchar(261) NOT NULL,
            path        varchar(2048) NOT NULL,
            `offset`    bigint NOT NULL,
            error       text NOT NULL,
            row_data    mediumtext NOT NULL,
            KEY (task_id, table_name)
        )""",
    CONFLICT_TABLE: """
        CREATE TABLE IF NOT EXISTS {schema}.conflict_records (
            task_id     bigint NOT NULL,
            create_time datetime(6) NOT NULL DEFAULT now(6),
            table_name  varchar(261) NOT NULL,
            path        varchar(2048) NOT NULL,
            `offset`    bigint NOT NULL,
            error       text NOT NULL,
            row_id      bigint NOT NULL COMMENT 'the row id of the conflicted row',
            row_data    mediumtext NOT NULL COMMENT 'the row data of the conflicted row',
            KEY (task_id, table_name)
        )""",
    COUNTS_TABLE: """
        CREATE TABLE IF NOT EXISTS {schema}.error_counts_v1 (
            task_id     bigint NOT NULL,
            kind        varchar(16) NOT NULL,
            `count`     bigint NOT NULL,
            PRIMARY KEY (task_id, kind)
        )""",
}


class TooManyErrors(LightningError):
    """More rows failed than ``max-error`` / ``[conflict] threshold`` allow."""


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not be imported, and why."""

    offset: int
    error: str
    row_data: bytes


@dataclass(frozen=True, slots=True)
class ErrorLimits:
    """How many rows of each kind may go to the error tables before the import fails."""

    type: int = 0
    conflict: int = 0
    max_record_rows: int = 0


class ErrorManager:
    """Records failed rows of one import task in the task-info schema.

    With an empty schema name nothing is recorded, but the limits still apply (as in Lightning), counted
    in memory.
    """

    def __init__(self, schema: str, import_id: int, limits: ErrorLimits) -> None:
        self.schema = schema
        self.import_id = import_id
        self.limits = limits
        self._q = quote_identifier(schema) if schema else ""
        self._memory_counts: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.schema)

    def create_tables(self, conn: Any) -> None:
        if not self.enabled:
            return
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {self._q}")
            for ddl in _CREATE_TABLES.values():
                cur.execute(ddl.format(schema=self._q))

    def record_type_errors(self, cur: Any, table: str, path: str, rows: list[RowError]) -> None:
        """Record rows a column rejected, in the caller's open transaction; raise past ``max-error.type``."""
        if not rows:
            return
        total = self._count(cur, "type", len(rows))
        if total > self.limits.type:
            first = rows[0]
            raise TooManyErrors(
                f"table {table}: {first.error} (file {path}, byte {first.offset}){_hint(first.error)}. The "
                f"number of type errors exceeds the threshold configured by `max-error.type`: "
                f"'{self.limits.type}'; rows already skipped are in "
                f"{self.schema or '(not recorded)'}.{TYPE_ERROR_TABLE}. Fix the data or raise [lightning] "
                "max-error, then run the import again: it resumes where it stopped."
            )
        if self.enabled:
            cur.executemany(
                f"INSERT INTO {self._q}.{TYPE_ERROR_TABLE} (task_id, table_name, path, `offset`, error, row_data) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [(self.import_id, table, path, r.offset, r.error, _text(r.row_data)) for r in rows],
            )

    def record_conflicts(self, cur: Any, table: str, path: str, rows: list[RowError]) -> None:
        """Record rows that collided on a unique key; raise past ``[conflict] threshold``."""
        if not rows:
            return
        before = self._count(cur, "conflict", len(rows)) - len(rows)
        recorded = rows[: max(0, min(len(rows), self.limits.max_record_rows - before))]
        crossing = self.limits.conflict - before  # index in `rows` of the conflict past the threshold
        if len(recorded) <= crossing < len(rows):
            # The conflict that stops the import is recorded even past max-record-rows, so that it can be
            # found (Lightning's RecordDuplicateOnce, for strategy "error" whose limits are 0).
            recorded = [*recorded, rows[crossing]]
        if self.enabled and recorded:
            cur.executemany(
                f"INSERT INTO {self._q}.{CONFLICT_TABLE} "
                "(task_id, table_name, path, `offset`, error, row_id, row_data) VALUES (%s, %s, %s, %s, %s, 0, %s)",
                [(self.import_id, table, path, r.offset, r.error, _text(r.row_data)) for r in recorded],
            )
        if before + len(rows) > self.limits.conflict:
            first = rows[max(0, crossing)]
            raise TooManyErrors(
                f"table {table}: {first.error} (file {path}, byte {first.offset}). The number of conflict "
                f"errors exceeds the threshold configured by `conflict.threshold`: '{self.limits.conflict}'; "
                f"see {self.schema or '(not recorded)'}.{CONFLICT_TABLE}"
            )

    def record_syntax_error(self, conn: Any, table: str, path: str, offset: int, error: str, context: bytes) -> None:
        """A row the parser cannot read; syntax errors always stop the table (Lightning fixes their budget at 0)."""
        if not self.enabled:
            return
        with conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO {self._q}.{SYNTAX_ERROR_TABLE} (task_id, table_name, path, `offset`, error, context) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (self.import_id, table, path, offset, error, _text(context)),
            )

    def _count(self, cur: Any, kind: str, n: int) -> int:
        """Add ``n`` to this task's count of ``kind`` (locking its row until the transaction ends)."""
        if not self.enabled:
            self._memory_counts[kind] = self._memory_counts.get(kind, 0) + n
            return self._memory_counts[kind]
        cur.execute(
            f"INSERT INTO {self._q}.{COUNTS_TABLE} (task_id, kind, `count`) VALUES (%s, %s, %s) "
            "ON DUPLICATE KEY UPDATE `count` = `count` + VALUES(`count`)",
            (self.import_id, kind, n),
        )
        cur.execute(
            f"SELECT `count` FROM {self._q}.{COUNTS_TABLE} WHERE task_id = %s AND kind = %s", (self.import_id, kind)
        )
        return int(cur.fetchone()[0])

    def summary(self, conn: Any) -> dict[str, dict[str, int]]:
        """Rows per table in each error table for this task: ``{table: {"type": n, "conflict": n, ...}}``."""
        if not self.enabled:
            return {}
        result: dict[str, dict[str, int]] = {}
        with conn.cursor() as cur:
            for kind, name in (("syntax", SYNTAX_ERROR_TABLE), ("type", TYPE_ERROR_TABLE), ("conflict", CONFLICT_TABLE)):
                try:
                    cur.execute(
                        f"SELECT table_name, COUNT(*) FROM {self._q}.{name} WHERE task_id = %s GROUP BY table_name",
                        (self.import_id,),
                    )
                except Exception:  # noqa: BLE001 - the table may not exist yet; nothing recorded then
                    continue
                for table, count in cur.fetchall():
                    table = table.decode() if isinstance(table, bytes) else table
                    result.setdefault(table, {})[kind] = int(count)
        return result

    def query_hint(self, kind: str, table: str) -> str:
        """The query that shows a table's rows of one error table, for the end-of-import summary."""
        name = {"type": TYPE_ERROR_TABLE, "syntax": SYNTAX_ERROR_TABLE, "conflict": CONFLICT_TABLE}[kind]
        escaped = table.replace("\\", "\\\\").replace("'", "\\'")
        return f"SELECT * FROM {self._q}.{name} WHERE task_id = {self.import_id} AND table_name = '{escaped}'"


def _text(data: bytes | str) -> str:
    """Row bytes as text for the error tables: bytes that are not UTF-8 shown as ``\\xNN``.

    The columns are utf8mb4 text, as in Lightning; a raw invalid byte (the very reason a row can be a type
    error) would make the server refuse the error record itself.
    """
    return data if isinstance(data, str) else data.decode("utf-8", "backslashreplace")


def _hint(error: str) -> str:
    """What a server error usually means for an import, where it is not obvious from the error."""
    if error.startswith("Column count doesn't match value count"):
        return (
            " — the row has a different number of values than the columns it is written to; for a CSV "
            "file check [mydumper.csv] separator, delimiter and header against the file"
        )
    if error.startswith("Incorrect string value"):
        return (
            " — the value's bytes are not valid in the character set the file declares (or the column cannot "
            "hold its characters); check the file's SET NAMES, [mydumper] data-character-set (CSV files, and "
            "SQL files that set none) and the column's character set"
        )
    return ""
