"""The Backend interface, after Lightning's: engines that rows are written into, then imported.

An engine is one table's (or one part of one table's) rows on their way to the target, identified by a
UUID derived from the table and engine id — the same in every process and on every retry. It moves
Opened -> Closed -> Imported -> Cleaned. The logical backend writes through SQL as rows arrive, so for
it closing and importing are bookkeeping; the physical backend sorts KV pairs locally and ingests them
on import.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from airflow_provider_lightning.core.checksum import RowChecksum

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
    def write_batch(self, batch: RowBatch, before: ChunkProgress, *, end_pos: int, finished: bool) -> BatchResult:
        """Write the rows and commit them together with the chunk's progress, atomically.

        ``before`` is the chunk's progress before the batch; ``end_pos`` where the chunk stands after it.
        """
        ...

    def close(self) -> None: ...


class Backend(Protocol):
    def open_engine(self, table: str, engine_id: int) -> EngineRef: ...

    def local_writer(self, engine: EngineRef, columns: Sequence[str]) -> EngineWriter: ...

    def flush_engine(self, engine: EngineRef) -> None: ...

    def close_engine(self, engine: EngineRef) -> None: ...

    def import_engine(self, engine: EngineRef) -> None: ...

    def cleanup_engine(self, engine: EngineRef) -> None: ...

    def close(self) -> None: ...
