"""The Backend interface, after Lightning's: engines that rows are written into, then imported.

Backends are looked up by ``tikv-importer.backend`` in :mod:`.registry` (``open_backend``).

An engine is one table's (or one part of one table's) rows on their way to the target, identified by a
UUID derived from the table and engine id — the same in every process and on every retry. It moves
Opened -> Closed -> Imported -> Cleaned. The logical backend writes through SQL as rows arrive, so for
it closing and importing are bookkeeping; the physical backend sorts KV pairs locally and ingests them
on import.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from airflow_provider_lightning.core.checksum import RowChecksum
from airflow_provider_lightning.core.target import ColumnInfo, TableInfo

_ENGINE_NAMESPACE = uuid.UUID("1c1f0f7e-8a5e-4a43-9f2b-6c1a4e2f7d10")


class EngineState(enum.Enum):
    OPENED = "opened"
    CLOSED = "closed"
    IMPORTED = "imported"
    CLEANED = "cleaned"


@dataclass(frozen=True, slots=True)
class EngineRef:
    table: str  # `db`.`tbl`
    engine_id: int

    @property
    def uuid(self) -> uuid.UUID:
        return uuid.uuid5(_ENGINE_NAMESPACE, f"{self.table}:{self.engine_id}")


@dataclass(frozen=True, slots=True)
class ChunkProgress:
    """Where a chunk will stand once a batch is committed: recorded in the same transaction as its rows."""

    chunk_key: str
    pos: int
    checksum: RowChecksum  # rows and hash sum the chunk has contributed to the target so far
    columns: tuple[str, ...] | None
    statement: str
    finished: bool


@dataclass(slots=True)
class RowBatch:
    """Rows of one chunk, encoded as ``(v1,v2,...)`` literals, on their way to the target.

    ``offsets[i]`` is where row i starts in ``path`` (for error records); ``hashes[i]`` its checksum hash
    (None when checksums are off); ``resumes[i]`` the chunk position from which row i is read again.
    """

    path: str
    rows: list[bytes] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    hashes: list[int] | None = None
    size: int = 0
    # Where a resume re-reads row i (the end of row i-1): what the chunk's position is before row i.
    resumes: list[int] = field(default_factory=list)
    # The character_set_client the rows' strings are written in (what the file declared); None: binary,
    # the bytes are stored as they are.
    charset: str | None = None

    def add(self, row: bytes, offset: int, row_hash: int | None, *, resume: int | None = None) -> None:
        self.rows.append(row)
        self.offsets.append(offset)
        self.resumes.append(offset if resume is None else resume)
        if self.hashes is not None and row_hash is not None:
            self.hashes.append(row_hash)
        self.size += len(row) + 1

    def head(self, count: int) -> RowBatch:
        """The first ``count`` rows, as a batch of their own."""
        return RowBatch(
            path=self.path,
            rows=self.rows[:count],
            offsets=self.offsets[:count],
            hashes=self.hashes[:count] if self.hashes is not None else None,
            size=sum(len(r) + 1 for r in self.rows[:count]),
            resumes=self.resumes[:count],
            charset=self.charset,
        )

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a committed batch did.

    ``progress`` is the chunk's new progress as committed: its checksum is the chunk's net contribution
    to the target (rows written, minus rows of the target that ``replace`` took away).
    """

    progress: ChunkProgress
    written: int
    type_errors: int = 0
    conflicts: int = 0


class EngineWriter(Protocol):
    """Writes the batches of one chunk worker into an engine (Lightning's ``EngineWriter``)."""

    def write_batch(self, batch: RowBatch, before: ChunkProgress, *, end_pos: int, finished: bool) -> BatchResult:
        """Write the rows and commit them together with the chunk's progress, atomically.

        ``before`` is the chunk's progress before the batch; ``end_pos`` where the chunk stands after it.
        """
        ...

    def close(self) -> None: ...


class Backend(Protocol):
    """Where rows go: Lightning's ``backend.Backend``, as ``import_table`` drives it.

    For one table, with ``engines`` its engine checkpoints::

        before_import(target)
        progress = committed_progress(table)            # reconciled with the chunk checkpoints
        for each engine below Closed:
            ref = open_engine(table, engine.id)
            for each unfinished chunk: local_writer(ref, target, columns).write_batch(...)
            flush_engine(ref); close_engine(ref)       # the engine checkpoint becomes Closed (90)
        for each engine below Imported:
            import_engine(ref)                         # ... Imported (120)
            cleanup_engine(ref)
        after_import(target, error)                    # always, also after a failure
        close()

    An engine found Closed in its checkpoint is not written again: it is imported as the backend left
    it, so whatever the backend keeps for a closed engine (files, a sorted KV store) must outlive the
    process. ``import_engine`` and ``cleanup_engine`` may run again for the same engine after a crash.
    """

    def before_import(self, target: TableInfo) -> None:
        """Before the table's first engine is opened (also when resuming): e.g. switch the target into an
        import mode, which ``after_import`` restores."""
        ...

    def committed_progress(self, table: str) -> Mapping[str, ChunkProgress] | None:
        """Chunk progress the backend committed together with the rows, by chunk key, which may be ahead of
        the checkpoint store; None when it keeps none: then every batch's progress must reach the store
        before the next batch is written."""
        ...

    def open_engine(self, table: str, engine_id: int) -> EngineRef: ...

    def local_writer(self, engine: EngineRef, target: TableInfo, columns: Sequence[ColumnInfo]) -> EngineWriter:
        """A writer for one chunk worker: rows of ``target`` carrying ``columns``, in that order."""
        ...

    def flush_engine(self, engine: EngineRef) -> None:
        """Make what was written to the engine durable (a kill afterwards loses nothing written)."""
        ...

    def close_engine(self, engine: EngineRef) -> None: ...

    def import_engine(self, engine: EngineRef) -> None: ...

    def cleanup_engine(self, engine: EngineRef) -> None: ...

    def after_import(self, target: TableInfo, error: BaseException | None) -> None:
        """After the table's engines are imported, or when the import failed (``error``)."""
        ...

    def close(self) -> None: ...
