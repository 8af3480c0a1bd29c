"""Lightning's checkpoint model: a task, its tables, their engines, their chunks.

The statuses carry Lightning's numbers, so a status read from any store means what it means in
Lightning. A failure stores the status divided by 10 (writing fails at 60, stores 6); any value up to
25 is an error state that blocks resuming until ``checkpoint-error-ignore`` or ``-destroy``.

Everything here is a plain value that serialises to JSON (``to_json`` / ``from_json``), the form every
store keeps.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_lightning.core.checksum import RowChecksum

CHECKPOINT_DRIVERS = ("file", "mysql", "airflow")
"""The values ``[checkpoint] driver`` takes: where the checkpoints are kept (``airflow``, the Task State
Store, only inside an Airflow task)."""

WHOLE_FILE = -1
"""``end_offset`` of a chunk that runs to the end of its file (every SQL or compressed file)."""


class CheckpointStatus(enum.IntEnum):
    MISSING = 0
    MAX_INVALID = 25
    LOADED = 30
    ALL_WRITTEN = 60
    DUP_DETECTED = 70
    INDEX_DROPPED = 80
    CLOSED = 90
    IMPORTED = 120
    INDEX_IMPORTED = 140
    ALTERED_AUTO_INC = 150
    CHECKSUM_SKIPPED = 170
    CHECKSUMMED = 180
    INDEX_ADDED = 190
    ANALYZE_SKIPPED = 200
    ANALYZED = 210


def failed_status(status: int) -> int:
    """The error state recorded when the step that leads to ``status`` fails (Lightning's ``/= 10``)."""
    return status // 10 if status > CheckpointStatus.MAX_INVALID else status


def is_error_status(status: int) -> bool:
    return status <= CheckpointStatus.MAX_INVALID


def describe_status(status: int) -> str:
    """``'loaded'``, ``'failed while writing (6)'``, ... for dumps and error messages."""
    if is_error_status(status):
        if status == 0:
            return "missing"
        try:
            step = CheckpointStatus(status * 10).name.lower().replace("_", " ")
        except ValueError:
            step = "an unknown step"
        return f"failed at '{step}' ({status})"
    try:
        return CheckpointStatus(status).name.lower().replace("_", " ")
    except ValueError:
        return f"unknown ({status})"


def table_key(schema: str, table: str) -> str:
    """A table's name in checkpoints: Lightning's quoted form, `` `db`.`tbl` ``."""
    return f"`{schema.replace('`', '``')}`.`{table.replace('`', '``')}`"


@dataclass(frozen=True, slots=True)
class ChunkCheckpoint:
    """One chunk: a file (or a byte range of a large CSV file) and how far it got.

    ``pos`` is the offset (in the decompressed stream) where the next row to import starts; ``rows``
    and ``checksum`` cover the rows imported before ``pos``; ``columns`` and ``statement`` are the
    column list and statement kind in force at ``pos`` (an SQL file can resume inside a multi-row
    INSERT, after its header).
    """

    path: str
    offset: int
    end_offset: int
    pos: int
    type: int
    compression: int
    sort_key: str
    file_size: int
    columns: tuple[str, ...] | None = None
    statement: str = "INSERT"
    rows: int = 0
    checksum: RowChecksum = field(default_factory=RowChecksum)
    finished: bool = False

    @property
    def key(self) -> str:
        """Lightning's chunk key, ``path:offset``."""
        return f"{self.path}:{self.offset}"

    @property
    def remaining_bytes(self) -> int | None:
        if self.finished:
            return 0
        if self.end_offset == WHOLE_FILE:
            return None
        return max(0, self.end_offset - self.pos)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "offset": self.offset,
            "end_offset": self.end_offset,
            "pos": self.pos,
            "type": self.type,
            "compression": self.compression,
            "sort_key": self.sort_key,
            "file_size": self.file_size,
            "columns": list(self.columns) if self.columns is not None else None,
            "statement": self.statement,
            "rows": self.rows,
            "checksum": self.checksum.to_json(),
            "finished": self.finished,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChunkCheckpoint:
        columns = data.get("columns")
        return cls(
            path=data["path"],
            offset=data["offset"],
            end_offset=data["end_offset"],
            pos=data["pos"],
            type=data["type"],
            compression=data["compression"],
            sort_key=data["sort_key"],
            file_size=data["file_size"],
            columns=tuple(columns) if columns is not None else None,
            statement=data.get("statement", "INSERT"),
            rows=data.get("rows", 0),
            checksum=RowChecksum.from_json(data.get("checksum")),
            finished=data.get("finished", False),
        )


@dataclass(frozen=True, slots=True)
class EngineCheckpoint:
    """A group of chunks imported together (Lightning's data engine; id -1 is the index engine)."""

    id: int
    status: int = CheckpointStatus.LOADED
    chunks: tuple[ChunkCheckpoint, ...] = ()

    def with_chunk(self, chunk: ChunkCheckpoint) -> EngineCheckpoint:
        return replace(self, chunks=tuple(chunk if c.key == chunk.key else c for c in self.chunks))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": int(self.status), "chunks": [c.to_json() for c in self.chunks]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineCheckpoint:
        return cls(
            id=data["id"],
            status=data["status"],
            chunks=tuple(ChunkCheckpoint.from_json(c) for c in data.get("chunks", ())),
        )


@dataclass(frozen=True, slots=True)
class TableCheckpoint:
    """A target table's import: its status, the fingerprint of its input, its engines.

    ``fingerprint`` ties the checkpoint to the exact input files (paths, sizes, versions) and the options
    that shape the plan; a checkpoint whose fingerprint differs from the current input is never resumed
    silently. ``target_identity`` records which incarnation of the target table it was made against
    (its creation time), so a table dropped and re-created behind our back is noticed.
    """

    name: str
    status: int = CheckpointStatus.LOADED
    fingerprint: str = ""
    target_identity: str = ""
    engines: tuple[EngineCheckpoint, ...] = ()
    checksum_before: RowChecksum | None = None

    @property
    def chunks(self) -> tuple[ChunkCheckpoint, ...]:
        return tuple(c for e in self.engines for c in e.chunks)

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.chunks)

    @property
    def checksum(self) -> RowChecksum:
        total = RowChecksum()
        for c in self.chunks:
            total = total + c.checksum
        return total

    def with_chunk(self, engine_id: int, chunk: ChunkCheckpoint) -> TableCheckpoint:
        return replace(
            self, engines=tuple(e.with_chunk(chunk) if e.id == engine_id else e for e in self.engines)
        )

    def with_engine_status(self, engine_id: int, status: int) -> TableCheckpoint:
        return replace(
            self, engines=tuple(replace(e, status=status) if e.id == engine_id else e for e in self.engines)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": int(self.status),
            "fingerprint": self.fingerprint,
            "target_identity": self.target_identity,
            "engines": [e.to_json() for e in self.engines],
            "checksum_before": self.checksum_before.to_json() if self.checksum_before else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableCheckpoint:
        before = data.get("checksum_before")
        return cls(
            name=data["name"],
            status=data["status"],
            fingerprint=data.get("fingerprint", ""),
            target_identity=data.get("target_identity", ""),
            engines=tuple(EngineCheckpoint.from_json(e) for e in data.get("engines", ())),
            checksum_before=RowChecksum.from_json(before) if before else None,
        )


@dataclass(frozen=True, slots=True)
class TaskCheckpoint:
    """The import as a whole: which source into which target with which backend.

    A later run refuses to resume with a different source, target or backend (Lightning's
    ``verifyCheckpoint``), because the tables' progress would not mean anything there.

    ``import_id`` is Lightning's *task id*: the number that names this import's rows in the task-info
    schema (the ``task_id`` column of the error tables, markers and leases, as in Lightning). It has its own
    name here because "task id" means an Airflow task's id everywhere else in an Airflow deployment.
    """

    import_id: int
    source_url: str
    target_host: str
    target_port: int
    backend: str
    version: str
    sorted_kv_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.import_id,
            "source_url": self.source_url,
            "target_host": self.target_host,
            "target_port": self.target_port,
            "backend": self.backend,
            "version": self.version,
            "sorted_kv_dir": self.sorted_kv_dir,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskCheckpoint:
        # Stored under Lightning's name, task_id (to_json).
        values = {**data, "import_id": data["task_id"]} if "task_id" in data else data
        return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})


def fingerprint_of(*parts: Any) -> str:
    """A stable digest of JSON-serialisable parts (file lists, options)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()
