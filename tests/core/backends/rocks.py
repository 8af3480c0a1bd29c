"""A second backend, in the tests: its engines are rocksdict stores on ``sorted-kv-dir``, as the physical
backend's will be, and importing an engine sends its rows to the target with plain multi-row INSERTs.

It goes through what the physical backend will: rows written into a local engine per (table, engine id)
under a UUID, flushed and closed, imported after (also by another process, after a kill), cleaned up;
before/after hooks around the table; no progress markers in the target, so every batch's chunk progress
reaches the checkpoint store before the next. Rows are keyed by (chunk, row offset), so writing a chunk
again after a crash replaces its rows instead of doubling them — as deterministic row ids make the
physical backend's re-encoding idempotent.

Plugged in with one entry: ``register_backend(BackendKind.LOCAL, RocksBackend.factory)``; nothing in
``steps.py`` knows it. ``journal`` (a file) records each lifecycle call, one JSON line each, so the tests
can see what ran in which process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

import pymysql
from rocksdict import Rdict

from airflow_provider_lightning.core.backend import BatchResult, ChunkProgress, EngineRef, RowBatch
from airflow_provider_lightning.core.backend.registry import BackendContext
from airflow_provider_lightning.core.checksum import RowChecksum
from airflow_provider_lightning.core.identifiers import qualified_name, quote_identifier
from airflow_provider_lightning.core.target import ColumnInfo, TableInfo, connect

# Set in a process's environment, this makes it SIGKILL itself right before its first import_engine:
# a worker dying after its engines were closed and recorded Closed, before they were imported.
KILL_BEFORE_IMPORT = "ROCKS_BACKEND_KILL_BEFORE_IMPORT"
_INSERT_ROWS = 500


class RocksBackend:
    def __init__(self, context: BackendContext) -> None:
        root = context.config.tikv_importer.sorted_kv_dir
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.settings = context.settings
        self.session_sql = context.session_sql
        self.journal = self.root / "journal.jsonl"
        self._engines: dict[str, Rdict] = {}
        self._targets: dict[str, TableInfo] = {}
        self._lock = threading.Lock()

    @classmethod
    def factory(cls, context: BackendContext) -> RocksBackend:
        return cls(context)

    # -- bookkeeping ---------------------------------------------------------------------------------

    def _note(self, event: str, **fields: object) -> None:
        with self._lock, self.journal.open("a") as f:
            f.write(json.dumps({"event": event, "pid": os.getpid(), **fields}) + "\n")

    def _path(self, engine: EngineRef) -> Path:
        return self.root / f"engine-{engine.uuid}"

    def _db(self, engine: EngineRef) -> Rdict:
        key = str(engine.uuid)
        with self._lock:
            if key not in self._engines:
                self._engines[key] = Rdict(str(self._path(engine)))
            return self._engines[key]

    def _release(self, engine: EngineRef) -> None:
        with self._lock:
            db = self._engines.pop(str(engine.uuid), None)
        if db is not None:
            db.close()

    # -- the Backend protocol ------------------------------------------------------------------------

    def before_import(self, target: TableInfo) -> None:
        self._targets[f"{target.schema}.{target.name}"] = target
        self._note("before_import", table=target.name)

    def committed_progress(self, table: str) -> None:
        return None  # no markers: the checkpoint store is the only record of progress

    def open_engine(self, table: str, engine_id: int) -> EngineRef:
        ref = EngineRef(table, engine_id)
        self._db(ref)
        self._note("open_engine", engine=str(ref.uuid), engine_id=engine_id)
        return ref

    def local_writer(self, engine: EngineRef, target: TableInfo, columns: Sequence[ColumnInfo]) -> RocksWriter:
        self._db(engine)[b"__target__"] = json.dumps([target.schema, target.name]).encode()
        return RocksWriter(self, engine, [c.name for c in columns])

    def flush_engine(self, engine: EngineRef) -> None:
        self._db(engine).flush()
        self._note("flush_engine", engine=str(engine.uuid))

    def close_engine(self, engine: EngineRef) -> None:
        self._release(engine)
        self._note("close_engine", engine=str(engine.uuid))

    def import_engine(self, engine: EngineRef) -> None:
        if os.environ.get(KILL_BEFORE_IMPORT):
            os.kill(os.getpid(), signal.SIGKILL)
        db = self._db(engine)
        target = json.loads(db[b"__target__"]) if b"__target__" in db else None
        imported = 0
        if target is not None:
            conn = connect(self.settings, binary=True)
            try:
                with conn.cursor() as cur:
                    for sql in self.session_sql:
                        cur.execute(sql)
                    imported = _insert_all(cur, qualified_name(*target), db)
                conn.commit()
            finally:
                conn.close()
        self._release(engine)
        self._note("import_engine", engine=str(engine.uuid), rows=imported)

    def cleanup_engine(self, engine: EngineRef) -> None:
        self._release(engine)
        shutil.rmtree(self._path(engine), ignore_errors=True)
        self._note("cleanup_engine", engine=str(engine.uuid))

    def after_import(self, target: TableInfo, error: BaseException | None) -> None:
        self._note("after_import", table=target.name, error=repr(error) if error else None)

    def close(self) -> None:
        with self._lock:
            engines, self._engines = self._engines, {}
        for db in engines.values():
            db.close()


class RocksWriter:
    """Puts each row under (chunk, row offset): writing a chunk again overwrites, never doubles."""

    def __init__(self, backend: RocksBackend, engine: EngineRef, columns: list[str]) -> None:
        self.backend = backend
        self.engine = engine
        self.columns = columns

    def write_batch(self, batch: RowBatch, before: ChunkProgress, *, end_pos: int, finished: bool) -> BatchResult:
        db = self.backend._db(self.engine)
        head = json.dumps([self.columns, batch.charset]).encode()
        for row, offset in zip(batch.rows, batch.offsets):
            db[f"row/{before.chunk_key}/{offset:020d}".encode()] = head + b"\n" + row
        self.backend._note("write_batch", engine=str(self.engine.uuid), chunk=before.chunk_key, rows=len(batch))
        added = RowChecksum(len(batch), sum(batch.hashes) if batch.hashes is not None else 0)
        progress = ChunkProgress(
            chunk_key=before.chunk_key,
            pos=end_pos,
            checksum=before.checksum + added,
            columns=before.columns,
            statement=before.statement,
            finished=finished,
        )
        return BatchResult(progress=progress, written=len(batch))

    def close(self) -> None:
        pass


def _insert_all(cur: pymysql.cursors.Cursor, table: str, db: Rdict) -> int:
    """One multi-row INSERT per run of rows with the same columns and charset, at most 500 rows each."""
    count = 0
    group: tuple[bytes, list[bytes]] | None = None

    def send(head: bytes, rows: list[bytes]) -> None:
        columns, charset = json.loads(head)
        cur.execute(f"SET NAMES {charset or 'binary'}")
        names = ",".join(quote_identifier(c) for c in columns)
        cur.execute(f"INSERT INTO {table} ({names}) VALUES ".encode() + b",".join(rows))

    for key, value in db.items(from_key=b"row/"):
        if not key.startswith(b"row/"):
            break
        head, _, row = value.partition(b"\n")
        if group is not None and (group[0] != head or len(group[1]) >= _INSERT_ROWS):
            send(*group)
            group = None
        if group is None:
            group = (head, [])
        group[1].append(row)
        count += 1
    if group is not None:
        send(*group)
    cur.execute("SET NAMES binary")
    return count
