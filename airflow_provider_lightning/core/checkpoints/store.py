"""Where checkpoints are kept: the interface every store implements, the rules they share, and the
in-memory store. ``drivers.py`` opens the store a ``[checkpoint]`` section asks for.

Every store keeps the same four levels (task, table, engine, chunk) and answers the same way: what one
store returns after a sequence of calls, every other store returns too. The checks and updates that do
not depend on where the data lives are here, so the stores cannot drift apart.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from airflow_provider_lightning.core.checkpoints.model import ChunkCheckpoint, TableCheckpoint, TaskCheckpoint
from airflow_provider_lightning.core.checksum import RowChecksum
from airflow_provider_lightning.core.errors import CheckpointError

MAX_STATUS = 255
"""Lightning keeps statuses in an unsigned byte (``tinyint unsigned`` in the mysql driver)."""

INT32 = (-(1 << 31), (1 << 31) - 1)
INT64 = (-(1 << 63), (1 << 63) - 1)

# The longest text each field may hold, in characters: the widths of the mysql driver's columns.
MAX_TABLE_NAME = 261  # `db`.`tbl` with 64-character names whose every character is a doubled backtick
MAX_PATH = 2048
MAX_SORT_KEY = 256
MAX_STATEMENT = 64
MAX_FINGERPRINT = 255
MAX_TARGET_IDENTITY = 255
MAX_SOURCE_URL = 2048
MAX_BACKEND = 64
MAX_HOST = 128
MAX_VERSION = 48
MAX_SORTED_KV_DIR = 256


@runtime_checkable
class CheckpointStore(Protocol):
    """A place that keeps one import's checkpoints; safe to use from several threads at once."""

    description: str
    """What the store is, for messages: ``file /path/x.json``, ``mysql 127.0.0.1:3306 `schema```."""

    def get_task(self) -> TaskCheckpoint | None: ...

    def put_task(self, task: TaskCheckpoint) -> None: ...

    def table_names(self) -> list[str]:
        """Names (`` `db`.`tbl` ``) of the tables that have checkpoints, sorted."""
        ...

    def get_table(self, name: str) -> TableCheckpoint | None: ...

    def put_table(self, table: TableCheckpoint) -> None:
        """Insert or replace the whole table checkpoint: its status, engines and chunks."""
        ...

    def update_chunks(self, name: str, engine_id: int, chunks: Sequence[ChunkCheckpoint]) -> None:
        """Replace some chunks of one engine, matched by chunk key; the others stay as they are.

        Every chunk must already be there (a chunk, engine or table that is not raises
        :class:`CheckpointError`); an empty ``chunks`` does nothing.
        """
        ...

    def update_status(self, name: str, status: int, *, engine_id: int | None = None) -> None:
        """Set the table's status or, with ``engine_id``, one engine's."""
        ...

    def remove_table(self, name: str) -> None: ...

    def remove_all(self) -> None:
        """Remove everything, the task included (Lightning's ``--checkpoint-remove=all``)."""
        ...

    def archive(self, import_id: int) -> str:
        """Move everything aside, named for ``task_id`` (``keep-after-success = "rename"``, Lightning's
        ``MoveCheckpoints``); return where it went, for messages. The store is empty afterwards."""
        ...

    def close(self) -> None: ...


# --- rules shared by every store ---------------------------------------------------------------------


def check_status(status: int, where: str) -> None:
    """Refuse a status no store can keep, before anything is written."""
    if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= MAX_STATUS:
        raise CheckpointError(f"{where}: status {status!r} is not a checkpoint status (0 to {MAX_STATUS})")


def check_task(task: TaskCheckpoint) -> None:
    """Refuse a task checkpoint that some store could not keep exactly."""
    _check_int(task.import_id, INT64, "task checkpoint: task id")
    _check_int(task.target_port, INT32, "task checkpoint: target port")
    for label, value, limit in (
        ("source URL", task.source_url, MAX_SOURCE_URL),
        ("target host", task.target_host, MAX_HOST),
        ("backend", task.backend, MAX_BACKEND),
        ("version", task.version, MAX_VERSION),
        ("sorted-kv-dir", task.sorted_kv_dir, MAX_SORTED_KV_DIR),
    ):
        _check_text(value, limit, f"task checkpoint: {label}")


def check_table(table: TableCheckpoint) -> None:
    """Refuse a table checkpoint that some store could not keep exactly.

    Every store applies the same limits (those of the mysql driver's columns), so that switching
    ``[checkpoint] driver`` never turns a working import into a failing one.
    """
    if not table.name:
        raise CheckpointError("a table checkpoint needs a name")
    _check_text(table.name, MAX_TABLE_NAME, "table checkpoint: name")
    check_status(table.status, f"table {table.name}")
    _check_text(table.fingerprint, MAX_FINGERPRINT, f"table {table.name}: fingerprint")
    _check_text(table.target_identity, MAX_TARGET_IDENTITY, f"table {table.name}: target identity")
    if table.checksum_before is not None:
        _check_checksum(table.checksum_before, f"table {table.name}: checksum before the import")
    engine_ids: set[int] = set()
    for engine in table.engines:
        where = f"table {table.name} engine {engine.id}"
        _check_int(engine.id, INT32, f"table {table.name}: engine id")
        if engine.id in engine_ids:
            raise CheckpointError(f"{where} appears twice")
        engine_ids.add(engine.id)
        check_status(engine.status, where)
        check_chunks(table.name, engine.id, engine.chunks)


def check_chunks(name: str, engine_id: int, chunks: Sequence[ChunkCheckpoint]) -> None:
    """Refuse chunks of one engine that share a key, or hold numbers a store could not keep."""
    keys: set[str] = set()
    for chunk in chunks:
        where = f"table {name} engine {engine_id} chunk {chunk.key}"
        if chunk.key in keys:
            raise CheckpointError(f"{where} appears twice")
        keys.add(chunk.key)
        _check_text(chunk.path, MAX_PATH, f"{where}: path")
        _check_text(chunk.sort_key, MAX_SORT_KEY, f"{where}: sort key")
        _check_text(chunk.statement, MAX_STATEMENT, f"{where}: statement")
        for label, value in (
            ("offset", chunk.offset),
            ("end offset", chunk.end_offset),
            ("position", chunk.pos),
            ("file size", chunk.file_size),
            ("row count", chunk.rows),
        ):
            _check_int(value, INT64, f"{where}: {label}")
        _check_int(chunk.type, INT32, f"{where}: type")
        _check_int(chunk.compression, INT32, f"{where}: compression")
        _check_checksum(chunk.checksum, f"{where}: checksum")


def _check_int(value: int, bounds: tuple[int, int], where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
        raise CheckpointError(f"{where} {value!r} is not an integer from {bounds[0]} to {bounds[1]}")


def _check_text(value: str, limit: int, where: str) -> None:
    if not isinstance(value, str) or len(value) > limit:
        shown = repr(value) if not isinstance(value, str) else f"of {len(value)} characters"
        raise CheckpointError(f"{where} {shown} is not a text of at most {limit} characters")


def _check_checksum(checksum: RowChecksum, where: str) -> None:
    _check_int(checksum.rows, INT64, f"{where} row count")
    _check_int(checksum.sum, (0, (1 << 64) - 1), f"{where} sum")


def with_updated_chunks(
    table: TableCheckpoint, engine_id: int, chunks: Sequence[ChunkCheckpoint]
) -> TableCheckpoint:
    """``table`` with the chunks of engine ``engine_id`` that share a key with ``chunks`` replaced.

    A chunk that matches nothing is an error rather than a silent no-op: progress that cannot be saved
    would be lost on resume.
    """
    check_chunks(table.name, engine_id, chunks)
    updates = {chunk.key: chunk for chunk in chunks}
    engines = list(table.engines)
    for index, engine in enumerate(engines):
        if engine.id != engine_id:
            continue
        known = {chunk.key for chunk in engine.chunks}
        unknown = [chunk.key for chunk in chunks if chunk.key not in known]
        if unknown:
            raise missing_chunk(table.name, engine_id, unknown[0])
        engines[index] = replace(engine, chunks=tuple(updates.get(c.key, c) for c in engine.chunks))
        return replace(table, engines=tuple(engines))
    raise missing_engine(table.name, engine_id)


def with_status(table: TableCheckpoint, status: int, engine_id: int | None) -> TableCheckpoint:
    """``table`` with its own status, or engine ``engine_id``'s, set to ``status``."""
    if engine_id is None:
        return replace(table, status=status)
    if not any(engine.id == engine_id for engine in table.engines):
        raise missing_engine(table.name, engine_id)
    return table.with_engine_status(engine_id, status)


def missing_table(store: CheckpointStore, name: str) -> CheckpointError:
    return CheckpointError(f"{store.description} has no checkpoint for table {name}")


def missing_engine(name: str, engine_id: int) -> CheckpointError:
    return CheckpointError(f"table {name} has no checkpoint for engine {engine_id}")


def missing_chunk(name: str, engine_id: int, key: str) -> CheckpointError:
    return CheckpointError(f"table {name} engine {engine_id} has no checkpoint for chunk {key}")


# --- in memory -----------------------------------------------------------------------------------------


class MemoryCheckpointStore:
    """Checkpoints kept in this process only: for tests, and for imports run without checkpoints."""

    def __init__(self) -> None:
        self.description = "memory"
        self._lock = threading.Lock()
        self._task: TaskCheckpoint | None = None
        self._tables: dict[str, TableCheckpoint] = {}
        self.archived: dict[int, tuple[TaskCheckpoint | None, dict[str, TableCheckpoint]]] = {}

    def get_task(self) -> TaskCheckpoint | None:
        with self._lock:
            return self._task

    def put_task(self, task: TaskCheckpoint) -> None:
        check_task(task)
        with self._lock:
            self._task = task

    def table_names(self) -> list[str]:
        with self._lock:
            return sorted(self._tables)

    def get_table(self, name: str) -> TableCheckpoint | None:
        with self._lock:
            return self._tables.get(name)

    def put_table(self, table: TableCheckpoint) -> None:
        check_table(table)
        with self._lock:
            self._tables[table.name] = table

    def update_chunks(self, name: str, engine_id: int, chunks: Sequence[ChunkCheckpoint]) -> None:
        if not chunks:
            return
        with self._lock:
            self._tables[name] = with_updated_chunks(self._existing(name), engine_id, chunks)

    def update_status(self, name: str, status: int, *, engine_id: int | None = None) -> None:
        check_status(status, f"table {name}")
        with self._lock:
            self._tables[name] = with_status(self._existing(name), status, engine_id)

    def remove_table(self, name: str) -> None:
        with self._lock:
            self._tables.pop(name, None)

    def remove_all(self) -> None:
        with self._lock:
            self._task = None
            self._tables.clear()

    def archive(self, import_id: int) -> str:
        with self._lock:
            self.archived[import_id] = (self._task, dict(self._tables))
            self._task = None
            self._tables.clear()
        return f"memory (archive {import_id})"

    def close(self) -> None:
        pass

    def _existing(self, name: str) -> TableCheckpoint:
        table = self._tables.get(name)
        if table is None:
            raise missing_table(self, name)
        return table
