"""The ``file`` checkpoint driver: one JSON document on local disk, rewritten whole on every update.

Lightning's file driver does the same with one protobuf file. Each write goes to a temporary file in
the same directory, is flushed to disk and then renamed over the old one, so a crash at any moment
leaves either the old document or the new one, never a mixture.

Several threads of a process may share a store object; several processes (or store objects) on one
host may share a file: every update takes an exclusive ``flock`` on ``<file>.lock``, re-reads the file if
someone else replaced it since, applies its change and writes. That is what lets mapped Airflow tasks
on one worker share a file. It does not cover hosts sharing a network file system; use the ``mysql``
driver (or ``airflow``) there.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_provider_lightning.core.checkpoints.model import ChunkCheckpoint, TableCheckpoint, TaskCheckpoint
from airflow_provider_lightning.core.checkpoints.store import (
    check_status,
    check_table,
    check_task,
    missing_table,
    with_status,
    with_updated_chunks,
)
from airflow_provider_lightning.core.errors import CheckpointError

log = logging.getLogger(__name__)

FORMAT_NAME = "airflow-provider-lightning checkpoints"
FORMAT_VERSION = 1
"""Bumped on any change an older reader would misread; a reader refuses versions it does not know."""

_TEMP_SUFFIX = ".tmp"


class FileCheckpointStore:
    """Checkpoints in the JSON file at ``path`` (created, with its directory, on the first write).

    The file is read on first use, not when the store is made, so that ``remove_all`` can clear a file
    that cannot be read.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.description = f"file {self.path}"
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock = threading.RLock()
        self._task: TaskCheckpoint | None = None
        self._tables: dict[str, TableCheckpoint] = {}
        # Each table's serialised form, so that a write re-encodes only the tables that changed.
        self._texts: dict[str, str] = {}
        # The file our state was read from or written to, held open so that its inode number cannot be
        # reused by another file while we compare against it.
        self._known_fd: int | None = None
        self._known: os.stat_result | None = None
        self._swept_temp_files = False
        if self.path.is_dir():
            raise CheckpointError(
                f"checkpoint file {self.path} is a directory; set [checkpoint] dsn to a file path inside it"
            )

    # --- the interface --------------------------------------------------------------------------------

    def get_task(self) -> TaskCheckpoint | None:
        with self._lock:
            self._refresh()
            return self._task

    def put_task(self, task: TaskCheckpoint) -> None:
        check_task(task)

        def change() -> None:
            self._task = task

        self._update(change)

    def table_names(self) -> list[str]:
        with self._lock:
            self._refresh()
            return sorted(self._tables)

    def get_table(self, name: str) -> TableCheckpoint | None:
        with self._lock:
            self._refresh()
            return self._tables.get(name)

    def put_table(self, table: TableCheckpoint) -> None:
        check_table(table)
        self._update(lambda: self._set_table(table))

    def update_chunks(self, name: str, engine_id: int, chunks: Sequence[ChunkCheckpoint]) -> None:
        if not chunks:
            return
        self._update(lambda: self._set_table(with_updated_chunks(self._existing(name), engine_id, chunks)))

    def update_status(self, name: str, status: int, *, engine_id: int | None = None) -> None:
        check_status(status, f"table {name}")
        self._update(lambda: self._set_table(with_status(self._existing(name), status, engine_id)))

    def remove_table(self, name: str) -> None:
        def change() -> None:
            self._tables.pop(name, None)
            self._texts.pop(name, None)

        self._update(change)

    def remove_all(self) -> None:
        if not self.path.parent.is_dir():
            with self._lock:
                self._reset()  # nothing was ever written; do not create the directory just to lock it
            return
        with self._lock, self._file_lock():
            try:
                self.path.unlink(missing_ok=True)
                # Removed while we hold it: a process waiting for it notices and locks the new one.
                self._lock_path.unlink(missing_ok=True)
            except OSError as exc:
                raise CheckpointError(
                    f"cannot remove checkpoint file {self.path}: {exc.strerror or exc}"
                ) from exc
            self._reset()
        log.info("removed all checkpoints: deleted %s", self.path)

    def archive(self, import_id: int) -> str:
        """Move the checkpoints aside to ``<file>.<import id>.bak`` (``keep-after-success = "rename"``,
        Lightning's ``MoveCheckpoints``) and return where they went; this store is empty afterwards."""
        backup = self.path.with_name(f"{self.path.name}.{import_id}.bak")
        with self._lock, self._file_lock():
            try:
                os.replace(self.path, backup)
            except FileNotFoundError:
                pass  # nothing was written: nothing to keep
            except OSError as exc:
                raise CheckpointError(
                    f"cannot move checkpoint file {self.path} to {backup}: {exc.strerror or exc}"
                ) from exc
            self._reset()
        log.info("moved the checkpoints from %s to %s", self.path, backup)
        return f"file {backup}"

    def close(self) -> None:
        with self._lock:
            self._forget_file()

    # --- reading --------------------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Make the in-memory state that of the file on disk, reading it only if it changed."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            if self._known is not None:
                self._reset()  # removed behind our back (checkpoint-remove all): nothing is kept
            return
        except OSError as exc:
            raise CheckpointError(f"cannot read checkpoint file {self.path}: {exc.strerror or exc}") from exc
        try:
            status = os.fstat(fd)
            if self._known is not None and _same_file(status, self._known):
                os.close(fd)
                return
            with open(fd, "rb", closefd=False) as stream:
                data = stream.read()
            task, tables = self._parse(data)
        except BaseException:
            os.close(fd)
            raise
        self._forget_file()
        self._task = task
        self._tables = {table.name: table for table in tables}
        self._texts = {}
        self._known_fd, self._known = fd, status

    def _parse(self, data: bytes) -> tuple[TaskCheckpoint | None, list[TableCheckpoint]]:
        try:
            document = json.loads(data)
        except ValueError as exc:
            raise self._corrupt(f"it is not valid JSON ({exc})") from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
            raise self._corrupt("it is not a checkpoint file of airflow-provider-lightning")
        version = document.get("version")
        if version != FORMAT_VERSION:
            raise CheckpointError(
                f"checkpoint file {self.path} has format version {version!r}, but this version of "
                f"airflow-provider-lightning reads only version {FORMAT_VERSION}; resume with the version "
                "that wrote it, or start over: run `lightning ctl checkpoint-remove all` (or delete the file)"
            )
        try:
            raw_task = document["task"]
            task = TaskCheckpoint.from_json(raw_task) if raw_task is not None else None
            tables = [TableCheckpoint.from_json(raw) for raw in document["tables"]]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            shape = f"its content does not have the expected shape ({type(exc).__name__}: {exc})"
            raise self._corrupt(shape) from exc
        return task, tables

    def _corrupt(self, why: str) -> CheckpointError:
        return CheckpointError(
            f"checkpoint file {self.path} cannot be read: {why}; to start over, run "
            "`lightning ctl checkpoint-remove all` or delete the file (tables already imported are then "
            "imported again)"
        )

    def _existing(self, name: str) -> TableCheckpoint:
        table = self._tables.get(name)
        if table is None:
            raise missing_table(self, name)
        return table

    # --- writing --------------------------------------------------------------------------------------

    def _set_table(self, table: TableCheckpoint) -> None:
        self._tables[table.name] = table
        self._texts.pop(table.name, None)

    def _update(self, change: Callable[[], None]) -> None:
        """Apply ``change`` to the current state and write the result, as one step for every writer."""
        with self._lock, self._file_lock():
            self._refresh()
            change()
            try:
                self._write()
            except BaseException:
                # The change is in memory but not on disk: read the disk again next time.
                self._forget_file()
                self._reset()
                raise

    def _write(self) -> None:
        parent = self.path.parent
        if not self._swept_temp_files:
            self._remove_stale_temp_files()
        fd, temp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=_TEMP_SUFFIX, dir=parent)
        try:
            with open(fd, "wb", closefd=False) as stream:
                stream.write(self._document())
            os.fsync(fd)
            os.replace(temp_name, self.path)
        except BaseException as exc:
            os.close(fd)
            Path(temp_name).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise CheckpointError(
                    f"cannot write checkpoint file {self.path}: {exc.strerror or exc}; check that its "
                    "directory is writable and the disk is not full"
                ) from exc
            raise
        _sync_directory(parent)
        status = os.fstat(fd)
        self._forget_file()
        self._known_fd, self._known = fd, status

    def _document(self) -> bytes:
        # Assembled from each table's cached text; ASCII escapes keep any Python string (even a path with
        # undecodable bytes) round-tripping.
        for name, table in self._tables.items():
            if name not in self._texts:
                self._texts[name] = _encode(table.to_json())
        head = _encode(
            {
                "format": FORMAT_NAME,
                "version": FORMAT_VERSION,
                "task": self._task.to_json() if self._task is not None else None,
            }
        )
        tables = ",".join(self._texts[name] for name in sorted(self._tables))
        return f'{head[:-1]},"tables":[{tables}]}}\n'.encode("ascii")

    def _remove_stale_temp_files(self) -> None:
        # Called under the file lock: no other writer is between mkstemp and rename, so any temporary
        # file left is from a writer that crashed.
        self._swept_temp_files = True
        for leftover in self.path.parent.glob(f".{_glob_escape(self.path.name)}.*{_TEMP_SUFFIX}"):
            try:
                leftover.unlink()
                log.info("removed %s, left by an interrupted checkpoint write", leftover)
            except OSError:
                pass

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    if _same_inode(os.fstat(fd), os.stat(self._lock_path)):
                        break
                except FileNotFoundError:
                    pass
                except BaseException:
                    os.close(fd)
                    raise
                os.close(fd)  # the lock file was removed while we waited; lock the one there now
        except OSError as exc:
            raise CheckpointError(
                f"cannot lock checkpoint file {self.path} (through {self._lock_path}): {exc.strerror or exc}"
            ) from exc
        try:
            yield
        finally:
            os.close(fd)

    # --- state ----------------------------------------------------------------------------------------

    def _reset(self) -> None:
        self._task = None
        self._tables = {}
        self._texts = {}
        self._forget_file()

    def _forget_file(self) -> None:
        if self._known_fd is not None:
            os.close(self._known_fd)
        self._known_fd = None
        self._known = None


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def _same_inode(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    """The same file, unchanged: a replacement has another inode, an edit in place another size or time."""
    return _same_inode(a, b) and (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename is still atomic
    finally:
        os.close(fd)


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
