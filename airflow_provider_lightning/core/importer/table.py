"""Importing one table: its chunks, concurrently, each resuming from its checkpoint.

A chunk streams rows from its file position, re-batches them into the backend's writer, and after each
committed batch records where it stands. Progress reaches the checkpoint store at a bounded rate: the
logical backend's marker in the target (committed with the rows) is what makes a resume exact, so the
store may lag behind it; on resume the two are reconciled (the further one wins).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_lightning.core.backend import Backend, ChunkProgress, EngineRef, RowBatch
from airflow_provider_lightning.core.checkpoints.model import (
    WHOLE_FILE,
    CheckpointStatus,
    ChunkCheckpoint,
    TableCheckpoint,
)
from airflow_provider_lightning.core.checkpoints.store import CheckpointStore
from airflow_provider_lightning.core.charsets import lookup as lookup_charset
from airflow_provider_lightning.core.checksum import RowHasher
from airflow_provider_lightning.core.encode import render_row
from airflow_provider_lightning.core.errormanager import ErrorManager
from airflow_provider_lightning.core.errors import ParseError, SourceError
from airflow_provider_lightning.core.failpoints import TableFailpoints
from airflow_provider_lightning.core.importer.progress import ImportProgress
from airflow_provider_lightning.core.mydump.formats import ParserOptions
from airflow_provider_lightning.core.mydump.formats import data_format as data_file_format
from airflow_provider_lightning.core.mydump.parser import ChunkSource, RowEncoding, RowParser
from airflow_provider_lightning.core.mydump.values import Value
from airflow_provider_lightning.core.storage import Compression, Storage
from airflow_provider_lightning.core.target import ColumnInfo, TableInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """How large one INSERT may grow: ``logical-import-batch-size`` / ``-rows``, within max_allowed_packet."""

    bytes: int
    rows: int


@dataclass(frozen=True, slots=True)
class ChunkOptions:
    """How a table's chunks are read (``parser``), batched, hashed and converted."""

    parser: ParserOptions
    checksum: bool
    limits: BatchLimits
    round_fractional_seconds: bool = False
    data_invalid_char_replace: str = "\ufffd"


class CheckpointSaver:
    """Collects chunk progress and writes it to the store at most every ``interval`` seconds.

    One flush runs at a time and takes whatever is pending when it starts, so the store receives each
    chunk's positions in the order they were reached: a slow flush never overwrites a newer position
    with an older one (which, without markers, would send a batch twice on resume).

    ``lagging_ok`` (by default: when ``interval`` > 0, which is when the target holds progress markers
    and the store is only a lagging copy of them) makes a failed periodic save a warning: what was not
    saved stays pending and goes with the next save, so a checkpoint database that is briefly away does
    not fail the table. An explicit :meth:`flush` always raises.
    """

    def __init__(
        self, store: CheckpointStore, table: str, interval: float, *, lagging_ok: bool | None = None
    ) -> None:
        self._store = store
        self._table = table
        self._interval = interval
        self._lagging_ok = interval > 0 if lagging_ok is None else lagging_ok
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: dict[tuple[int, str], ChunkCheckpoint] = {}
        self._last = time.monotonic()

    def queue(self, engine_id: int, chunk: ChunkCheckpoint) -> None:
        """Add progress to the next save without triggering one."""
        with self._lock:
            self._pending[(engine_id, chunk.key)] = chunk

    def update(self, engine_id: int, chunk: ChunkCheckpoint, *, force: bool = False) -> None:
        with self._lock:
            self._pending[(engine_id, chunk.key)] = chunk
            due = force or time.monotonic() - self._last >= self._interval
        if not due:
            return
        if not self._lagging_ok:
            self.flush()
            return
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - the markers in the target hold this progress exactly
            log.warning(
                "table %s: could not save the checkpoint (%s); the target's progress markers keep the "
                "progress, and the next save retries",
                self._table, exc,
            )

    def flush(self) -> None:
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
                self._last = time.monotonic()
            by_engine: dict[int, list[ChunkCheckpoint]] = {}
            for (engine_id, _), chunk in pending.items():
                by_engine.setdefault(engine_id, []).append(chunk)
            try:
                for engine_id, chunks in by_engine.items():
                    self._store.update_chunks(self._table, engine_id, chunks)
            except BaseException:
                with self._lock:
                    for key, chunk in pending.items():
                        self._pending.setdefault(key, chunk)  # newer progress made meanwhile wins
                raise


def reconcile_with_markers(checkpoint: TableCheckpoint, markers: dict[str, ChunkProgress]) -> TableCheckpoint:
    """Adopt, for each chunk, the target's committed marker where it is further than the stored checkpoint."""
    if not markers:
        return checkpoint
    for engine in checkpoint.engines:
        for chunk in engine.chunks:
            marker = markers.get(chunk.key)
            if marker is None:
                continue
            if marker.pos > chunk.pos or (marker.finished and not chunk.finished):
                adopted = replace(
                    chunk,
                    pos=marker.pos,
                    rows=marker.checksum.rows,
                    checksum=marker.checksum,
                    columns=marker.columns,
                    statement=marker.statement,
                    finished=marker.finished,
                )
                checkpoint = checkpoint.with_chunk(engine.id, adopted)
    return checkpoint


class TableImporter:
    """Runs the chunks of one table through a backend's engines, and the engines through their lifecycle.

    Engines below Closed are opened and their unfinished chunks written (all chunks of the table share
    one pool); each is then flushed and closed (its checkpoint: Closed), and every engine below Imported
    is imported (Imported) and cleaned up. An engine found Closed is imported as the backend kept it,
    without reading its files again.
    """

    def __init__(
        self,
        *,
        checkpoint: TableCheckpoint,
        target: TableInfo,
        storage: Storage,
        backend: Backend,
        store: CheckpointStore,
        errors: ErrorManager,
        saver: CheckpointSaver,
        options: ChunkOptions,
        progress: ImportProgress,
        concurrency: int,
        connect: Callable[[], Any],
    ) -> None:
        self.checkpoint = checkpoint
        self.target = target
        self.storage = storage
        self.backend = backend
        self.store = store
        self.errors = errors
        self.saver = saver
        self.options = options
        self.progress = progress
        self.concurrency = max(1, concurrency)
        self.failpoints = TableFailpoints(checkpoint.name)
        self._connect = connect  # a data connection to the target, for the error records
        self._lock = threading.Lock()
        # Set when a chunk fails: the other chunks stop after their current batch instead of running on.
        self.stopping = threading.Event()
        #: The status the step under way leads to: what a failure is recorded as (divided by 10).
        self.step = CheckpointStatus.ALL_WRITTEN
        self._engines: dict[int, EngineRef] = {}

    def run(self) -> TableCheckpoint:
        """Write, close, import and clean up every engine not yet imported; return the table checkpoint
        with all chunks finished and all engines Imported."""
        name = self.checkpoint.name
        to_write = [e for e in self.checkpoint.engines if e.status < CheckpointStatus.CLOSED]
        todo = [(e.id, c) for e in to_write for c in e.chunks if not c.finished]
        # Where each chunk starts may come from the backend's committed progress (reconcile_with_markers)
        # and be further than the store knows — up to finished, for a chunk whose last batch was committed
        # just before a crash. The store is what the checksum and later runs read: bring it up to date.
        for engine in to_write:
            for chunk in engine.chunks:
                if chunk.finished or chunk.pos != chunk.offset or chunk.rows:
                    self.saver.queue(engine.id, chunk)
        self.saver.flush()
        self._engines = {e.id: self.backend.open_engine(name, e.id) for e in to_write}
        results: dict[str, ChunkCheckpoint] = {}
        if todo:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="chunk") as pool:
                futures = {pool.submit(self._run_chunk, engine_id, chunk): chunk.key for engine_id, chunk in todo}
                done, not_done = wait(futures, return_when=FIRST_EXCEPTION)
                for f in not_done:
                    f.cancel()
                try:
                    for f in done:
                        results[futures[f]] = f.result()
                finally:
                    self.saver.flush()
        checkpoint = self.checkpoint
        for engine in checkpoint.engines:
            for chunk in engine.chunks:
                if chunk.key in results:
                    checkpoint = checkpoint.with_chunk(engine.id, results[chunk.key])
        self.checkpoint = checkpoint
        # Every chunk's progress is in the store (flushed above) before its engine is recorded Closed.
        self.step = CheckpointStatus.CLOSED
        for engine in to_write:
            ref = self._engines[engine.id]
            self.backend.flush_engine(ref)
            self.backend.close_engine(ref)
            self._engine_reached(engine.id, CheckpointStatus.CLOSED)
        self.step = CheckpointStatus.IMPORTED
        for engine in self.checkpoint.engines:
            if engine.status >= CheckpointStatus.IMPORTED:
                continue
            # An engine Closed by an earlier run is imported without being opened again (Lightning's
            # UnsafeCloseEngine): its ref is the same UUID in every process.
            ref = self._engines.get(engine.id) or EngineRef(name, engine.id)
            self.backend.import_engine(ref)
            self._engine_reached(engine.id, CheckpointStatus.IMPORTED)
            self.backend.cleanup_engine(ref)
        return self.checkpoint

    def _engine_reached(self, engine_id: int, status: CheckpointStatus) -> None:
        self.store.update_status(self.checkpoint.name, status, engine_id=engine_id)
        self.checkpoint = self.checkpoint.with_engine_status(engine_id, status)

    # -- one chunk -----------------------------------------------------------------------------------

    def _run_chunk(self, engine_id: int, chunk: ChunkCheckpoint) -> ChunkCheckpoint:
        runner = _ChunkRun(self, engine_id, chunk)
        try:
            return runner.run()
        except _Stopped:
            return runner.chunk
        except ParseError as exc:
            self.stopping.set()
            conn = self._connect()
            try:
                self.errors.record_syntax_error(
                    conn, self.checkpoint.name, chunk.path, exc.offset or 0, exc.reason, exc.excerpt
                )
            finally:
                conn.close()
            raise
        except BaseException:
            self.stopping.set()
            raise
        finally:
            runner.close()

    def columns_for(self, names: Sequence[str] | None, path: str) -> tuple[ColumnInfo, ...]:
        """The target columns a file's rows carry: its column list, or every insertable column in order."""
        if names is None:
            return self.target.insertable_columns
        columns = []
        for name in names:
            column = self.target.column(name)
            if column is None:
                raise SourceError(
                    path,
                    f"column '{name}' is not a column of the target table "
                    f"`{self.target.schema}`.`{self.target.name}`; fix the file's column list or header, or "
                    "the table's schema",
                )
            if column.generated:
                raise SourceError(
                    path,
                    f"column '{name}' of `{self.target.schema}`.`{self.target.name}` is generated and cannot "
                    "be written; leave it out of the file",
                )
            columns.append(column)
        return tuple(columns)


class _ChunkRun:
    """The state of one chunk while it is being imported."""

    def __init__(self, table: TableImporter, engine_id: int, chunk: ChunkCheckpoint) -> None:
        self.table = table
        self.engine_id = engine_id
        self.chunk = chunk
        self.options = table.options
        self._writers: dict[tuple[str, ...] | None, Any] = {}
        self._hashers: dict[tuple[tuple[str, ...] | None, str | None], RowHasher] = {}
        # The character_set_client the rows of new batches are read in (None: binary, bytes as they are).
        self._batch_charset: str | None = None
        self._writer: Any = None
        self._position_scale = 1.0  # bytes of source per unit of position (Parquet positions are rows)
        self.columns: tuple[ColumnInfo, ...] = ()
        self.progress = ChunkProgress(
            chunk_key=chunk.key,
            pos=chunk.pos,
            checksum=chunk.checksum,
            columns=chunk.columns,
            statement=chunk.statement,
            finished=False,
        )

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def run(self) -> ChunkCheckpoint:
        chunk = self.chunk
        end = None if chunk.end_offset == WHOLE_FILE else chunk.end_offset
        if end is not None and chunk.pos >= end:
            return self._finish(chunk.pos)
        data_format = data_file_format(chunk.type, chunk.path)
        source = ChunkSource(
            storage=self.table.storage,
            path=chunk.path,
            compression=Compression(chunk.compression),
            pos=chunk.pos,
            end=end,
            file_size=chunk.file_size,
            columns=chunk.columns,
            statement=chunk.statement,
        )
        # Parsing the next batch overlaps with the server executing the previous one.
        self._sender = _Sender(self._commit, name=f"send-{chunk.path}")
        try:
            with data_format.open(source, self.options.parser) as parser:
                self._position_scale = parser.bytes_per_position
                if parser.encoding is RowEncoding.SQL_LITERAL:
                    self._send_literals(parser)
                else:
                    self._send_values(parser)
        finally:
            # Batches parsed before a failure are still committed: they are good rows.
            self._sender.close()
        return self.chunk

    # -- rows ----------------------------------------------------------------------------------------

    def _send_literals(self, parser: RowParser) -> None:
        """Batch rows that arrive as SQL value lists, sent as they are; the column list, statement kind
        and charset may change between rows (an SQL file's next INSERT, SET NAMES): a change starts a
        new batch, since a batch is one statement in one charset."""
        chunk = self.chunk
        limits = self.options.limits
        last_end = parser.pos
        # The column list and statement kind the current batch was started under: a resume at a batch's
        # end continues inside that statement, so they are saved with its progress.
        columns = chunk.columns
        statement = chunk.statement
        charset = parser.charset
        self._batch_charset = charset
        hasher = self._use_columns(columns, source_charset=charset)

        def flush(batch: RowBatch, end_pos: int, *, finished: bool = False) -> RowBatch:
            if hasher is not None:
                # A whole batch at a time: the hasher splits plain rows instead of parsing them.
                batch.hashes = hasher.hash_sql_rows(batch.rows)
            return self._flush(batch, end_pos, columns=columns, statement=statement, finished=finished)

        batch = self._new_batch()
        try:
            for raw, row_end in parser.rows():
                now = parser.columns
                if now is None and len(raw) <= _EMPTY_ROW_MAX and not raw[1:-1].strip():
                    # `INSERT INTO t VALUES ()`: MySQL gives every column its default, as for `() VALUES ()`
                    now = ()
                if now != columns or parser.charset != charset:
                    batch = flush(batch, last_end)
                    columns = now
                    charset = parser.charset
                    self._batch_charset = batch.charset = charset
                    hasher = self._use_columns(columns, source_charset=charset)
                statement = parser.statement
                batch.add(raw, row_end - len(raw), None, resume=last_end)
                last_end = row_end
                if batch.size >= limits.bytes or len(batch.rows) >= limits.rows:
                    batch = flush(batch, row_end)
        except SourceError:
            self._salvage(lambda: flush(batch, last_end))
            raise
        flush(batch, last_end, finished=True)

    def _send_values(self, parser: RowParser) -> None:
        """Batch rows that arrive as values into INSERTs of the parser's columns."""
        charset = parser.charset
        hasher = self._use_columns(parser.columns, source_charset=charset)
        # Converted charsets travel as UTF-8 (converted here, as Lightning does, for the text columns
        # only: a BLOB keeps its bytes, as LOAD DATA ... CHARACTER SET keeps them); utf8mb4 and ascii go
        # as they are on a session that says so; binary on the binary session.
        self._batch_charset = "utf8mb4" if charset in _CONVERTED_CHARSETS else charset
        convert = _charset_converter(charset, self.options.data_invalid_char_replace) if charset else None
        converters = None
        if convert is not None:
            converters = [convert if c.charset and c.charset != "binary" else None for c in self.columns]
        self._send_value_rows(parser.rows(), parser.pos, parser.columns, hasher, converters)

    def _send_value_rows(
        self,
        rows: Iterator[tuple[Sequence[Value], int]],
        start: int,
        columns: tuple[str, ...] | None,
        hasher: RowHasher | None,
        converters: Sequence[Callable[[bytes], bytes] | None] | None = None,
    ) -> None:
        """Batch decoded rows (each with the position after it) into INSERTs of ``columns``, hashing each
        for the checksum; on a bad row, commit the good ones before it, then let the error go on.

        ``converters`` (one per column, None for none) change a value's bytes before it is sent; the
        checksum hashes the value as read, with the charset it was read in."""
        batch = self._new_batch()
        limits = self.options.limits
        width = len(self.columns)
        last = start
        try:
            for values, end in rows:
                row_hash = None
                if hasher is not None:
                    row_hash = hasher.hash_row(values) if len(values) == width else 0
                if converters is not None and len(values) == width:
                    values = [
                        f(v) if f is not None and type(v) is bytes else v for f, v in zip(converters, values)
                    ]
                batch.add(render_row(values), last, row_hash)
                last = end
                if batch.size >= limits.bytes or len(batch.rows) >= limits.rows:
                    batch = self._flush(batch, end, columns=columns, statement="INSERT")
        except SourceError:
            self._salvage(lambda: self._flush(batch, last, columns=columns, statement="INSERT"))
            raise
        self._flush(batch, last, columns=columns, statement="INSERT", finished=True)

    def _salvage(self, flush: Callable[[], Any]) -> None:
        """Commit the good rows read before a bad one (the error that follows names the bad one)."""
        try:
            flush()
        except Exception as exc:  # noqa: BLE001 - the original error is the one to report
            log.warning("table %s: the rows before the error could not be committed: %s", self.table.checkpoint.name, exc)

    # -- batches -------------------------------------------------------------------------------------

    def _new_batch(self) -> RowBatch:
        return RowBatch(
            path=self.chunk.path, hashes=[] if self.options.checksum else None, charset=self._batch_charset
        )

    def _use_columns(
        self, names: Sequence[str] | None, *, source_charset: str | None = None
    ) -> RowHasher | None:
        """Write the following rows to these columns (None: all insertable columns, in table order);
        their strings are in ``source_charset`` (None or ``binary``: bytes stored as they are)."""
        key = tuple(names) if names is not None else None
        self.columns = self.table.columns_for(names, self.chunk.path)
        if key not in self._writers:
            self._writers[key] = self.table.backend.local_writer(
                self.table._engines[self.engine_id], self.table.target, self.columns
            )
        self._writer = self._writers[key]
        if self.options.checksum and (key, source_charset) not in self._hashers:
            self._hashers[key, source_charset] = RowHasher(
                self.columns,
                round_fractional_seconds=self.options.round_fractional_seconds,
                source_charset=source_charset,
            )
        return self._hashers.get((key, source_charset))

    def _flush(
        self,
        batch: RowBatch,
        end_pos: int,
        *,
        columns: tuple[str, ...] | None,
        statement: str,
        finished: bool = False,
    ) -> RowBatch:
        """Hand the batch (with the chunk's progress at ``end_pos``) to the sender; start a new one."""
        if not batch.rows and not finished:
            return batch
        if self.table.stopping.is_set():
            raise _Stopped
        self._sender.submit(_Job(batch, self._writer, end_pos, columns, statement, finished))
        return self._new_batch()

    def _commit(self, job: _Job) -> None:
        """On the sender's thread: write and commit one batch, then record where the chunk stands."""
        before = replace(self.progress, columns=job.columns, statement=job.statement)
        result = job.writer.write_batch(job.batch, before, end_pos=job.end_pos, finished=job.finished)
        self.table.failpoints.batch_committed()
        advanced = int((job.end_pos - self.progress.pos) * self._position_scale)
        self.progress = result.progress
        self.chunk = replace(
            self.chunk,
            pos=result.progress.pos,
            rows=result.progress.checksum.rows,
            checksum=result.progress.checksum,
            columns=result.progress.columns,
            statement=result.progress.statement,
            finished=result.progress.finished,
        )
        self.table.saver.update(self.engine_id, self.chunk, force=job.finished)
        self.table.progress.advance(self.table.checkpoint.name, advanced, result.written)

    def _finish(self, pos: int) -> ChunkCheckpoint:
        self.chunk = replace(self.chunk, finished=True)
        self.table.saver.update(self.engine_id, self.chunk, force=True)
        return self.chunk


# The longest `()` with only blanks inside that a dump writes for a row of defaults.
_EMPTY_ROW_MAX = 8


class _Stopped(Exception):
    """Another chunk of the table failed: this one stops after its committed batches."""


@dataclass(frozen=True, slots=True)
class _Job:
    batch: RowBatch
    writer: Any
    end_pos: int
    columns: tuple[str, ...] | None
    statement: str
    finished: bool


class _Sender:
    """Commits a chunk's batches in order, on a thread of its own, one batch behind the parser."""

    def __init__(self, commit: Callable[[_Job], None], *, name: str, depth: int = 1) -> None:
        self._commit = commit
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=name[:60], daemon=True)
        self._thread.start()

    def submit(self, job: _Job) -> None:
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(job, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Wait until every submitted batch is committed; raise the sender's error, if any."""
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=0.2)
                break
            except queue.Full:
                continue
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self._error is not None:
                continue  # drain: after a failure nothing more is written
            try:
                self._commit(job)
            except BaseException as exc:  # noqa: BLE001 - handed to the parsing thread
                self._error = exc


# The data-character-set values Lightning converts to UTF-8 (binary, utf8mb4 and ascii go as they are).
_CONVERTED_CHARSETS = ("gb18030", "gbk", "latin1")


def _charset_converter(charset: str, replacement: str = "\ufffd") -> Callable[[bytes], bytes] | None:
    """Lightning's ``data-character-set`` for CSV: field bytes in gb18030, gbk or latin1 become UTF-8.

    As Lightning's ``CharsetConvertor``: what does not decode becomes U+FFFD, and every U+FFFD of the
    result (also one the file spelled out) becomes ``data-invalid-char-replace``.
    """
    if charset.lower() not in _CONVERTED_CHARSETS:
        return None
    source = lookup_charset(charset)
    assert source is not None
    substitute = replacement if replacement != "\ufffd" else None

    def convert(value: bytes) -> bytes:
        if value.isascii():
            return value
        text = source.decode(value, "replace")
        if substitute is not None and "\ufffd" in text:
            text = text.replace("\ufffd", substitute)
        return text.encode("utf-8")

    return convert

