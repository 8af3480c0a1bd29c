"""The logical backend (Lightning's "tidb" backend): rows go to the target as multi-row SQL statements.

Works on any MySQL-compatible server. Each batch is one transaction that carries, besides the rows, the
chunk's progress marker and the batch's error-table rows, so a batch is either entirely in the target
with its bookkeeping or not at all.

Conflict strategies (``[conflict] strategy``) are applied row by row where rows collide, so that every
row is accounted for:
- ``error``: the first duplicate key stops the table (recorded once in ``conflict_records``);
- ``ignore``: a row whose key is taken is skipped and recorded in ``conflict_records``;
- ``replace``: the target's colliding rows are deleted and recorded in ``conflict_records`` and the
  new row written (``REPLACE``), and the checksum of the rows taken away is subtracted from what the
  target is expected to hold.
Batches are sent with a plain ``INSERT`` first — no collisions is the common case and costs nothing
extra. A batch that fails on a data error or a duplicate key is split in halves, recursively, inside the
same transaction (InnoDB undoes only the failed statement), until the rows at fault are isolated; all
other rows still arrive.

A batch that fails on a lost connection, a deadlock or a lock wait timeout is sent again on a new
connection, for up to ``retry_window`` seconds (long enough for a server restart). That is only safe
because of the marker: a COMMIT whose reply was lost may or may not have committed, so every batch
transaction first locks the chunk's marker row and reads it. Locking waits for whatever transaction
still holds the row (the lost COMMIT, or another process on the same chunk) and then reads what was
committed: if the marker already stands where this batch ends, the batch is in — it is not sent again;
if it stands where the batch starts, the batch is sent; anything else (or a marker that is gone) means
another process is writing the chunk, and the table stops instead of guessing. The marker row is created
before the chunk's first batch (``ProgressMarkers.claim``), so there is always a row to lock.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pymysql
import tenacity

from airflow_provider_lightning.core.backend import (
    BatchResult,
    ChunkProgress,
    EngineRef,
    EngineState,
    RowBatch,
)
from airflow_provider_lightning.core.backend.progress import ProgressMarkers
from airflow_provider_lightning.core.charsets import lookup as lookup_charset
from airflow_provider_lightning.core.checksum import RowChecksum, row_hash_sql
from airflow_provider_lightning.core.identifiers import quote_identifier
from airflow_provider_lightning.core.encode import render_value
from airflow_provider_lightning.core.errormanager import ErrorManager, RowError, TooManyErrors
from airflow_provider_lightning.core.errors import LightningError, TargetError, connection_lost
from airflow_provider_lightning.core.failpoints import TableFailpoints
from airflow_provider_lightning.core.mydump.values import Value
from airflow_provider_lightning.core.mydump.sql_parser import decode_row
from airflow_provider_lightning.core.target import ColumnInfo, ConnectionSettings, TableInfo, connect, mysql_message

log = logging.getLogger(__name__)

# Server errors that concern one row's values: the row goes to type_error_v1 (Lightning's classification:
# in its logical backend every non-duplicate, non-retryable row error is a type error).
_DUPLICATE_KEY = frozenset({1022, 1062, 1169, 1586})
_SYNTAX = frozenset({1064})
# Errors that are about the statement or the table, not a row: no point in splitting the batch.
_FATAL = frozenset({1044, 1045, 1046, 1049, 1054, 1142, 1143, 1146, 1153, 1290, 1792, 1836})

_CONFLICT_STRATEGIES = ("error", "ignore", "replace")

RETRY_WINDOW = 60.0
"""Seconds a batch keeps being retried after retryable errors (a server restart takes a few)."""
_FIRST_RETRY_DELAY = 0.5
_MAX_RETRY_DELAY = 4.0


class DuplicateKeyError(LightningError):
    """A row collided on a unique key under ``[conflict] strategy = "error"``."""


class RowSyntaxError(LightningError):
    """The server could not parse a row that the dump's parser accepted."""


class TargetUnavailable(TargetError):
    """The target stayed unreachable (or kept failing a batch with retryable errors) for the whole retry
    window. Nothing is lost: every committed batch is in the target with its marker, so running the
    import again resumes exactly."""

    retryable = True


def _code(exc: BaseException) -> int | None:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def is_retryable(exc: BaseException) -> bool:
    """Whether a batch that failed with ``exc`` may be sent again on a new connection."""
    return not isinstance(exc, TargetUnavailable) and connection_lost(exc)


class _RetryWindow(tenacity.stop.stop_base):
    """Stop retrying once ``retries`` retries are spent and ``window`` seconds have passed since the first
    failure (not since the first try: a first try that waited out a lock timeout spends none of the window).

    One instance per batch: it remembers when that batch first failed.
    """

    def __init__(self, retries: int, window: float) -> None:
        self.retries = retries
        self.window = window
        self.first_failure: float | None = None

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        now = retry_state.outcome_timestamp or time.monotonic()
        if self.first_failure is None:
            self.first_failure = now
        return retry_state.attempt_number > self.retries and now - self.first_failure >= self.window


def _lost_reason(retry_state: tenacity.RetryCallState) -> str:
    """The server's own words for the failure of the last try.

    A failed reconnect is a TargetError whose advice (check host, user, password) does not fit a server that
    answered a moment ago.
    """
    exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
    if exc is None:
        return "no error"
    return mysql_message(exc.__cause__ if isinstance(exc, TargetError) and exc.__cause__ else exc)


@dataclass(frozen=True, slots=True)
class ReplaceProbe:
    """What ``replace`` needs to find the target rows a new row will take away.

    ``unique_keys`` are the positions (in the written column list) of each unique key's columns;
    ``row_hash_sql`` computes a target row's checksum hash, ``row_text_sql`` renders it for
    ``conflict_records``.
    """

    unique_keys: tuple[tuple[int, ...], ...]
    row_hash_sql: str | None
    row_text_sql: str


def replace_probe(target: TableInfo, columns: Sequence[ColumnInfo]) -> ReplaceProbe | None:
    """How ``replace`` finds the rows of ``target`` that a row of ``columns`` takes away (None: no unique key
    is among the columns)."""
    names = [c.name.lower() for c in columns]
    keys = []
    for key in ((target.primary_key,) if target.primary_key else ()) + target.unique_keys:
        if all(k.lower() in names for k in key):
            keys.append(tuple(names.index(k.lower()) for k in key))
    if not keys:
        return None
    row_text = "CONCAT('(', CONCAT_WS(',', " + ", ".join(
        f"IFNULL(QUOTE({quote_identifier(c.name)}), 'NULL')" for c in columns
    ) + "), ')')"
    return ReplaceProbe(unique_keys=tuple(keys), row_hash_sql=row_hash_sql(columns), row_text_sql=row_text)


class LogicalBackend:
    """Writes through SQL. One instance per import process; writers are per chunk worker (thread)."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        strategy: str = "error",
        session_sql: Sequence[str] = (),
        errors: ErrorManager,
        markers: ProgressMarkers | None,
        retries: int = 3,
        retry_window: float | None = None,
        fence: Callable[[pymysql.cursors.Cursor], None] | None = None,
    ) -> None:
        if strategy not in _CONFLICT_STRATEGIES:
            raise ValueError(f"unknown conflict strategy {strategy!r}")
        self.settings = settings
        self.strategy = strategy
        self.session_sql = tuple(session_sql)
        self.errors = errors
        self.markers = markers
        self.retries = retries
        self.retry_window = RETRY_WINDOW if retry_window is None else retry_window
        # Run in every batch's transaction before its rows: raises when the table's owner lease is no
        # longer this import's, so no batch commits after another import took the table over.
        self.fence = fence
        self._engines: dict[str, EngineState] = {}

    def connect(self):
        conn = connect(self.settings, binary=True)
        with conn.cursor() as cur:
            for sql in self.session_sql:
                cur.execute(sql)
        return conn

    # -- engines: the logical backend writes as it goes, so these only track state -------------------

    def before_import(self, target: TableInfo) -> None:
        pass

    def after_import(self, target: TableInfo, error: BaseException | None) -> None:
        pass

    def committed_progress(self, table: str) -> dict[str, ChunkProgress] | None:
        """The progress markers each batch committed with its rows (None without a task-info schema)."""
        if self.markers is None:
            return None
        conn = connect(self.settings)
        try:
            return self.markers.read(conn, table)
        finally:
            conn.close()

    def open_engine(self, table: str, engine_id: int) -> EngineRef:
        ref = EngineRef(table, engine_id)
        self._engines[str(ref.uuid)] = EngineState.OPENED
        return ref

    def local_writer(self, engine: EngineRef, target: TableInfo, columns: Sequence[ColumnInfo]) -> LogicalWriter:
        return LogicalWriter(
            self,
            engine.table,
            (target.schema, target.name),
            [c.name for c in columns],
            probe=replace_probe(target, columns),
            decode_row=decode_row,
        )

    def flush_engine(self, engine: EngineRef) -> None:
        pass

    def close_engine(self, engine: EngineRef) -> None:
        self._engines[str(engine.uuid)] = EngineState.CLOSED

    def import_engine(self, engine: EngineRef) -> None:
        self._engines[str(engine.uuid)] = EngineState.IMPORTED

    def cleanup_engine(self, engine: EngineRef) -> None:
        self._engines[str(engine.uuid)] = EngineState.CLEANED

    def engine_state(self, engine: EngineRef) -> EngineState | None:
        return self._engines.get(str(engine.uuid))

    def close(self) -> None:
        self._engines.clear()


class LogicalWriter:
    """Writes batches of one table from one worker, over its own connection."""

    def __init__(
        self,
        backend: LogicalBackend,
        table: str,
        target: tuple[str, str],
        columns: Sequence[str],
        *,
        probe: ReplaceProbe | None,
        decode_row: Callable[..., list[Value]] | None,
    ) -> None:
        self.backend = backend
        self.table = table
        self.columns = tuple(columns)
        self._qualified = f"{quote_identifier(target[0])}.{quote_identifier(target[1])}"
        column_list = ",".join(quote_identifier(c) for c in self.columns)
        self._insert_head = f"INSERT INTO {self._qualified} ({column_list}) VALUES ".encode()
        self._replace_head = f"REPLACE INTO {self._qualified} ({column_list}) VALUES ".encode()
        self._heads = (self._insert_head, self._replace_head)
        self._charset: str | None = None  # the session's character_set_client; None: binary
        self._probe = probe
        self._decode_row = decode_row
        self._conn = None
        self._claimed: set[str] = set()  # chunks whose marker row is known to exist
        self._failpoints = TableFailpoints(table)

    def _connection(self):
        if self._conn is None:
            self._conn = self.backend.connect()
        return self._conn

    def _kill_on_server(self, conn) -> None:  # noqa: ANN001 - a pymysql connection
        """The ``kill-connection`` failpoint: end ``conn`` from another session, as a DBA would."""
        killer = self.backend.connect()
        try:
            with killer.cursor() as cur:
                cur.execute(f"KILL CONNECTION {int(conn.thread_id())}")
        finally:
            killer.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self._conn = None
        self._charset = None  # a new connection starts with SET NAMES binary
        self._insert_head, self._replace_head = self._heads

    def write_batch(self, batch: RowBatch, before: ChunkProgress, *, end_pos: int, finished: bool) -> BatchResult:
        """Write and commit the batch with its marker; retry retryable errors for ``retry_window`` seconds.

        With markers a retry is exact (see the module's docstring). Without them a COMMIT whose reply was
        lost is sent again and may double the batch: that is what ``task-info-schema-name = ""`` gives up.
        """
        def write_once() -> BatchResult:
            try:
                return self._write_once(batch, before, end_pos=end_pos, finished=finished)
            except (DuplicateKeyError, RowSyntaxError, TooManyErrors):
                self._rollback_quietly()
                self._commit_rows_before_the_stop(batch, before)
                raise
            except Exception:
                self._rollback_quietly()
                raise

        def retry_on_a_new_connection(state: tenacity.RetryCallState) -> None:
            reason, attempt = _lost_reason(state), state.attempt_number
            log.warning("table %s: retrying a batch after %s (attempt %d)", self.table, reason, attempt)
            self.close()

        def give_up(state: tenacity.RetryCallState) -> BatchResult:
            exc = state.outcome.exception() if state.outcome is not None else None
            raise TargetUnavailable(
                f"table {self.table}: lost the target database while writing rows from "
                f"{batch.path} at byte {batch.offsets[0] if batch.offsets else before.pos} "
                f"({_lost_reason(state)}), and it did not come back in {self.backend.retry_window:.0f}s "
                f"({state.attempt_number} attempts); every committed batch is kept: run the import again to "
                "resume from the last one"
            ) from exc

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_retryable),
            stop=_RetryWindow(self.backend.retries, self.backend.retry_window),
            wait=tenacity.wait_exponential(multiplier=_FIRST_RETRY_DELAY, max=_MAX_RETRY_DELAY),
            before_sleep=retry_on_a_new_connection,
            retry_error_callback=give_up,
        )
        return retrying(write_once)

    def _commit_rows_before_the_stop(self, batch: RowBatch, before: ChunkProgress) -> None:
        """A row stops the table: still commit the good rows before it, with the chunk's marker at it, so
        that they are in the target and a resume starts at the row that stopped."""
        outcome = getattr(self, "_outcome", None)
        first_bad = outcome.first_bad_row() if outcome is not None else None
        if not first_bad:
            return
        try:
            self._write_once(batch.head(first_bad), before, end_pos=batch.resumes[first_bad], finished=False)
        except Exception as exc:  # noqa: BLE001 - the stopping error is the one to report
            self._rollback_quietly()
            log.warning("table %s: the rows before the failing row could not be committed: %s", self.table, exc)

    def _rollback_quietly(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.rollback()
        except Exception:  # noqa: BLE001 - the connection is gone; it is replaced on retry
            self.close()

    def _write_once(self, batch: RowBatch, before: ChunkProgress, *, end_pos: int, finished: bool) -> BatchResult:
        conn = self._connection()
        markers = self.backend.markers
        if markers is not None and before.chunk_key not in self._claimed:
            with conn.cursor() as cur:
                markers.claim(cur, self.table, before)  # autocommitted
            self._claimed.add(before.chunk_key)
        outcome = _BatchOutcome()
        self._outcome = outcome
        conn.begin()
        with conn.cursor() as cur:
            if markers is not None:
                committed = markers.lock(cur, self.table, before.chunk_key)
                done = self._already_committed(committed, before, end_pos=end_pos, finished=finished)
                if done is not None:
                    conn.rollback()
                    return done
            if self.backend.fence is not None:
                self.backend.fence(cur)
            if batch.rows:
                self._use_charset(cur, batch.charset)
                try:
                    self._insert(cur, batch, list(range(len(batch.rows))), outcome)
                finally:
                    self._use_charset(cur, None, quietly=sys.exc_info()[0] is not None)
            errors = self.backend.errors
            errors.record_type_errors(cur, self.table, batch.path, outcome.type_errors)
            errors.record_conflicts(cur, self.table, batch.path, outcome.conflicts)
            written = len(batch.rows) - len(outcome.type_errors) - len(outcome.ignored)
            added = RowChecksum(written, 0)
            if batch.hashes is not None:
                skipped = set(outcome.skipped_indexes)
                added = RowChecksum(written, sum(h for i, h in enumerate(batch.hashes) if i not in skipped))
            progress = replace(
                before,
                pos=end_pos,
                checksum=before.checksum + added - outcome.replaced_away,
                finished=finished,
            )
            if markers is not None:
                markers.write(cur, self.table, progress)
        conn.commit()
        fault = self._failpoints.writer_committed()
        if fault == "lose-commit-reply":
            self.close()
            raise pymysql.err.OperationalError(2013, "Lost connection to server during query (failpoint)")
        if fault == "kill-connection":
            self._kill_on_server(conn)
        return BatchResult(
            progress=progress,
            written=written,
            type_errors=len(outcome.type_errors),
            conflicts=len(outcome.conflicts),
        )

    def _already_committed(
        self, committed: ChunkProgress | None, before: ChunkProgress, *, end_pos: int, finished: bool
    ) -> BatchResult | None:
        """None if the chunk's marker stands where this batch starts (send it); the batch's result if
        the marker stands where it ends (its COMMIT went through, only the reply was lost); raise if it
        stands anywhere else, or is gone (it was claimed before the chunk's first batch, so only a
        cleanup can have removed it: another process finished the import, or its checkpoints were
        removed)."""
        schema = self.backend.markers.schema if self.backend.markers is not None else ""
        if committed is None:
            raise TargetError(
                f"table {self.table}: the progress marker of chunk {before.chunk_key} in `{schema}`."
                "import_progress_v1 is gone while this import writes the chunk: another process finished "
                "this import (or its checkpoints were removed) meanwhile. Nothing more is written; compare "
                "the table with the source before running the import again"
            )
        if (committed.pos, committed.finished) == (before.pos, before.finished):
            return None
        if (committed.pos, committed.finished) == (end_pos, finished):
            log.warning(
                "table %s: the batch from %s bytes %d-%d was committed before the connection broke; "
                "not sending it again", self.table, before.chunk_key, before.pos, end_pos,
            )
            progress = replace(
                before, pos=committed.pos, checksum=committed.checksum, columns=committed.columns,
                statement=committed.statement, finished=committed.finished,
            )
            return BatchResult(progress=progress, written=max(0, committed.checksum.rows - before.checksum.rows))
        raise TargetError(
            f"table {self.table}: the progress marker of chunk {before.chunk_key} in `{schema}`.import_progress_v1 "
            f"says byte {committed.pos}{' (finished)' if committed.finished else ''} is committed, but this "
            f"import stands at byte {before.pos}: another process is importing the same table (an earlier "
            "run that is still alive, or a second worker). Stop it, then run the import again: it resumes "
            "from the marker"
        )

    def _use_charset(self, cur, charset: str | None, *, quietly: bool = False) -> None:
        """Read the next statements' strings in ``charset`` (None: back to ``binary``).

        A file that says ``SET NAMES latin1`` has its strings converted by the server, exactly as the
        ``mysql`` client would have them converted; only its INSERTs run so, the rest of the session
        (markers, error records) stays binary. The statement heads are re-encoded for the charset, as
        the server reads the column names in it too.
        """
        if charset == self._charset:
            return
        try:
            if charset is not None:
                self._insert_head, self._replace_head = self._heads_in(charset)
            else:
                self._insert_head, self._replace_head = self._heads
            cur.execute(b"SET NAMES " + (charset or "binary").encode("ascii"))
            self._charset = charset
        except Exception:
            if not quietly:
                raise
            self.close()  # the session is in an unknown charset: a new connection starts binary

    def _heads_in(self, charset: str) -> tuple[bytes, bytes]:
        heads = self._heads
        if all(h.isascii() for h in heads):
            return heads
        found = lookup_charset(charset)
        try:
            if found is None:
                raise UnicodeError(charset)
            return tuple(found.encode(h.decode("utf-8")) for h in heads)  # type: ignore[return-value]
        except UnicodeError:
            raise TargetError(
                f"table {self.table}: the data file's strings are in {charset}, which cannot spell the "
                "table's or its columns' names; convert the file to utf8mb4 (SET NAMES utf8mb4) or rename "
                "the columns"
            ) from None

    # -- isolating the rows at fault ------------------------------------------------------------------

    def _insert(self, cur, batch: RowBatch, indexes: list[int], outcome: _BatchOutcome) -> None:
        try:
            cur.execute(self._insert_head + b",".join([batch.rows[i] for i in indexes]))
            return
        except pymysql.err.MySQLError as exc:
            code = _code(exc)
            if is_retryable(exc) or code in _FATAL or code is None:
                if code in _FATAL:
                    raise TargetError(f"table {self.table}: the target refused the rows: {mysql_message(exc)}") from exc
                raise
            if len(indexes) == 1:
                self._row_failed(cur, batch, indexes[0], exc, outcome)
                return
        middle = len(indexes) // 2
        self._insert(cur, batch, indexes[:middle], outcome)
        self._insert(cur, batch, indexes[middle:], outcome)

    def _row_failed(self, cur, batch: RowBatch, index: int, exc: BaseException, outcome: _BatchOutcome) -> None:
        code = _code(exc)
        offset = batch.offsets[index]
        message = mysql_message(exc)
        row = batch.rows[index]
        if code in _SYNTAX:
            outcome.stop_index = index
            raise RowSyntaxError(
                f"table {self.table}: the target cannot parse the row at {batch.path} byte {offset}: {message}; "
                "fix the row in the file, then run the import again"
            )
        if code not in _DUPLICATE_KEY:
            outcome.type_errors.append(RowError(offset, message, row))
            outcome.skipped_indexes.append(index)
            return
        strategy = self.backend.strategy
        if strategy == "error":
            self._record_fatal_conflict(batch.path, RowError(offset, message, row))
            outcome.stop_index = index
            raise DuplicateKeyError(
                f"table {self.table}: {message} (row at {batch.path} byte {offset}); with "
                "[conflict] strategy = \"error\" a duplicate key stops the table. Remove the duplicate, or set "
                "strategy to \"replace\" (keep the newest row) or \"ignore\" (keep the existing row)"
            )
        if strategy == "ignore":
            outcome.conflicts.append(RowError(offset, message, row))
            outcome.ignored.append(index)
            outcome.skipped_indexes.append(index)
            return
        self._replace_row(cur, batch, index, message, outcome)

    def _record_fatal_conflict(self, path: str, error: RowError) -> None:
        """Record the duplicate that stops the table on a side connection: the batch itself is rolled back."""
        side = self.backend.connect()
        try:
            with side.cursor() as cur:
                try:
                    self.backend.errors.record_conflicts(cur, self.table, path, [error])
                except LightningError:
                    pass  # over the threshold (0 for "error"): expected, the caller raises the real error
        finally:
            side.close()

    def _replace_row(self, cur, batch: RowBatch, index: int, message: str, outcome: _BatchOutcome) -> None:
        row = batch.rows[index]
        offset = batch.offsets[index]
        probe = self._probe
        if probe is not None and self._decode_row is not None and probe.unique_keys:
            values = self._decode_row(row, charset=batch.charset)
            condition = _key_condition(self.columns, values, probe.unique_keys)
            if condition:
                select = probe.row_text_sql + (", " + probe.row_hash_sql if probe.row_hash_sql else "")
                cur.execute(
                    f"SELECT {select} FROM {self._qualified} WHERE ".encode() + condition + b" FOR UPDATE"
                )
                for found in cur.fetchall():
                    text = found[0] if isinstance(found[0], bytes) else str(found[0]).encode()
                    outcome.conflicts.append(RowError(offset, f"replaced by the row at byte {offset}: {message}", text))
                    taken = RowChecksum(1, int(found[1]) if probe.row_hash_sql else 0)
                    outcome.replaced_away = outcome.replaced_away + taken
        cur.execute(self._replace_head + row)


class _BatchOutcome:
    __slots__ = ("type_errors", "conflicts", "ignored", "skipped_indexes", "replaced_away", "stop_index")

    def __init__(self) -> None:
        self.type_errors: list[RowError] = []
        self.conflicts: list[RowError] = []
        self.ignored: list[int] = []
        self.skipped_indexes: list[int] = []
        self.replaced_away = RowChecksum()
        self.stop_index: int | None = None  # the row that stops the table, when one does

    def first_bad_row(self) -> int | None:
        if self.stop_index is not None:
            return self.stop_index
        return min(self.skipped_indexes) if self.skipped_indexes else None


def _key_condition(columns: Sequence[str], values: Sequence[Value], keys: tuple[tuple[int, ...], ...]) -> bytes:
    """``(k1 <=> v1 AND k2 <=> v2) OR (...)`` over the unique keys whose values are all non-NULL."""
    parts = []
    for key in keys:
        if any(i >= len(values) or values[i] is None for i in key):
            continue  # NULLs never collide in a unique key
        parts.append(
            b"("
            + b" AND ".join(quote_identifier(columns[i]).encode() + b" = " + render_value(values[i]) for i in key)
            + b")"
        )
    return b" OR ".join(parts)
