"""Lightning's checkpoints in a key-value state store: Airflow 3.3's Task State Store, the default inside
Airflow.

A task instance reads and writes only its own state store (``context["task_state_store"]``): rows
scoped to (dag run, task, map index) that survive retries and a Clear of the task — exactly when a
table must resume. So each ``import_table`` task instance keeps the checkpoints of the tables it
imports in its own store; ``init_checkpoint`` keeps the task checkpoint in its own. This module imports
nothing from Airflow: it needs only something with ``get``/``set``/``delete`` (the task's
``task_state_store``, or the REST client's accessor for another task's), and it never uses Airflow's ORM
(task code may not). It follows the same rules as every other store (``store.py``).

Keys (all under ``lightning/``, or ``lightning/archive-<task id>/`` once archived):
- ``tables``: the index, ``{table key id: table name}``;
- ``<id>/table``: a table's status, fingerprint, target identity, checksum before the import, and its
  engines' statuses and chunk counts;
- ``<id>/chunks/<engine>/<group>``: a group of the engine's chunk checkpoints.
Chunks are spread over groups so that every value stays well under Airflow's 64 KB limit
(``[state_store] max_value_storage_bytes``); a progress update rewrites only the groups it touches, and
the importer sends updates at a bounded rate (every few seconds: the in-target progress markers keep the
resume exact between them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from airflow_provider_lightning.core.checkpoints.model import (
    ChunkCheckpoint,
    EngineCheckpoint,
    TableCheckpoint,
    TaskCheckpoint,
)
from airflow_provider_lightning.core.checkpoints.store import (
    check_status,
    check_table,
    check_task,
    missing_table,
    with_status,
    with_updated_chunks,
)
from airflow_provider_lightning.core.checksum import RowChecksum
from airflow_provider_lightning.core.errors import CheckpointError

log = logging.getLogger(__name__)

PREFIX = "lightning/"
# Well under the 65,535 bytes Airflow accepts, leaving room for a chunk's progress to grow.
VALUE_LIMIT = 40_000


class StateStoreAccessor(Protocol):
    """What ``context["task_state_store"]`` offers (and what the REST client offers for others' stores)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


def table_id(name: str) -> str:
    """A short, stable key part for a table name (names can be long and hold any character)."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


class TaskStateCheckpointStore:
    """The checkpoint store of one task instance, kept in its Task State Store.

    ``task`` is the task checkpoint handed down by ``init_checkpoint`` (through XCom); ``get_task``
    returns it, or the one stored here by ``put_task``.
    """

    def __init__(
        self,
        accessor: StateStoreAccessor,
        *,
        task: TaskCheckpoint | None = None,
        description: str = "",
        prefix: str = PREFIX,
    ) -> None:
        self._accessor = accessor
        self._prefix = prefix
        self._index_key = prefix + "tables"
        self._task_key = prefix + "task"
        self._task = task
        self._lock = threading.RLock()
        self._tables: dict[str, TableCheckpoint] = {}
        self._groups: dict[str, dict[int, list[list[str]]]] = {}  # table -> engine -> groups of chunk keys
        self.description = description or "the Airflow Task State Store of this task instance"

    # -- task --------------------------------------------------------------------------------------

    def get_task(self) -> TaskCheckpoint | None:
        if self._task is not None:
            return self._task
        data = self._get(self._task_key)
        return TaskCheckpoint.from_json(data) if data else None

    def put_task(self, task: TaskCheckpoint) -> None:
        check_task(task)
        with self._lock:
            self._accessor.set(self._task_key, task.to_json())
            self._task = task

    # -- tables ------------------------------------------------------------------------------------

    def _index(self) -> dict[str, str]:
        return dict(self._get(self._index_key) or {})

    def table_names(self) -> list[str]:
        with self._lock:
            return sorted(self._index().values())

    def get_table(self, name: str) -> TableCheckpoint | None:
        with self._lock:
            if name in self._tables:
                return self._tables[name]
            tid = table_id(name)
            if self._index().get(tid) != name:
                return None
            meta = self._get(f"{self._prefix}{tid}/table")
            if not meta or meta.get("name") != name:
                return None
            engines = []
            groups: dict[int, list[list[str]]] = {}
            for engine in meta["engines"]:
                chunks: list[ChunkCheckpoint] = []
                keys: list[list[str]] = []
                for g in range(engine["groups"]):
                    data = self._get(f"{self._prefix}{tid}/chunks/{engine['id']}/{g}") or []
                    group = [ChunkCheckpoint.from_json(c) for c in data]
                    chunks.extend(group)
                    keys.append([c.key for c in group])
                if len(chunks) != engine["chunks"]:
                    raise CheckpointError(
                        f"the checkpoint of table {name} in {self.description} is incomplete ({len(chunks)} of "
                        f"{engine['chunks']} chunks); remove it (lightning ctl checkpoint-remove, or Clear the "
                        "state store through the REST API) and import the table again"
                    )
                engines.append(EngineCheckpoint(id=engine["id"], status=engine["status"], chunks=tuple(chunks)))
                groups[engine["id"]] = keys
            before = meta.get("checksum_before")
            table = TableCheckpoint(
                name=name,
                status=meta["status"],
                fingerprint=meta.get("fingerprint", ""),
                target_identity=meta.get("target_identity", ""),
                engines=tuple(engines),
                checksum_before=RowChecksum.from_json(before) if before else None,
            )
            self._tables[name] = table
            self._groups[name] = groups
            return table

    def put_table(self, table: TableCheckpoint) -> None:
        check_table(table)
        with self._lock:
            old = self._index()
            tid = table_id(table.name)
            self._drop_keys(table.name)
            groups: dict[int, list[list[str]]] = {}
            for engine in table.engines:
                engine_groups = _group_chunks(engine.chunks)
                groups[engine.id] = [[c.key for c in g] for g in engine_groups]
                for g, group in enumerate(engine_groups):
                    self._accessor.set(f"{self._prefix}{tid}/chunks/{engine.id}/{g}", [c.to_json() for c in group])
            self._tables[table.name] = table
            self._groups[table.name] = groups
            self._write_meta(table)
            old[tid] = table.name
            self._accessor.set(self._index_key, old)

    def update_chunks(self, name: str, engine_id: int, chunks: Sequence[ChunkCheckpoint]) -> None:
        if not chunks:
            return
        with self._lock:
            table = with_updated_chunks(self._require(name), engine_id, chunks)
            self._tables[name] = table
            engine = next(e for e in table.engines if e.id == engine_id)
            current = {c.key: c for c in engine.chunks}
            changed = {c.key for c in chunks}
            tid = table_id(name)
            # Only the groups holding a changed chunk are written again.
            for g, keys in enumerate(self._groups[name][engine_id]):
                if any(k in changed for k in keys):
                    value = [current[k].to_json() for k in keys]
                    if len(json.dumps(value)) > VALUE_LIMIT * 1.5:
                        log.warning("a checkpoint value of table %s grew past %d bytes", name, VALUE_LIMIT)
                    self._accessor.set(f"{self._prefix}{tid}/chunks/{engine_id}/{g}", value)

    def update_status(self, name: str, status: int, *, engine_id: int | None = None) -> None:
        check_status(status, f"table {name}")
        with self._lock:
            table = with_status(self._require(name), status, engine_id)
            self._tables[name] = table
            self._write_meta(table)

    def remove_table(self, name: str) -> None:
        with self._lock:
            self._drop_keys(name)
            index = self._index()
            index.pop(table_id(name), None)
            self._accessor.set(self._index_key, index)

    def remove_all(self) -> None:
        with self._lock:
            for name in self._index().values():
                self._drop_keys(name)
            self._accessor.delete(self._index_key)
            self._accessor.delete(self._task_key)
            self._task = None

    def archive(self, import_id: int) -> str:
        """Move the checkpoints under ``lightning/archive-<import id>/`` (``keep-after-success = "rename"``)
        and return where they went; this store is empty afterwards. The archived rows expire with the
        state store's retention, like the others."""
        prefix = f"{self._prefix}archive-{import_id}/"
        backup = TaskStateCheckpointStore(self._accessor, description=self.description, prefix=prefix)
        with self._lock:
            task = self.get_task()
            if task is not None:
                backup.put_task(task)
            for name in self.table_names():
                table = self.get_table(name)
                if table is not None:
                    backup.put_table(table)
            self.remove_all()
        return f"{self.description}, keys {prefix}"

    def retain_only(self, names: Sequence[str]) -> list[str]:
        """Forget the checkpoints of tables other than ``names`` (a map index that now holds other
        tables than in an earlier try starts clean for them); return the names dropped."""
        keep = set(names)
        dropped = [n for n in self.table_names() if n not in keep]
        for name in dropped:
            self.remove_table(name)
        return dropped

    def close(self) -> None:
        pass

    # -- internals ---------------------------------------------------------------------------------

    def _get(self, key: str) -> Any:
        return self._accessor.get(key, None)

    def _require(self, name: str) -> TableCheckpoint:
        table = self.get_table(name)
        if table is None:
            raise missing_table(self, name)
        return table

    def _write_meta(self, table: TableCheckpoint) -> None:
        tid = table_id(table.name)
        groups = self._groups.get(table.name, {})
        self._accessor.set(
            f"{self._prefix}{tid}/table",
            {
                "name": table.name,
                "status": int(table.status),
                "fingerprint": table.fingerprint,
                "target_identity": table.target_identity,
                "checksum_before": table.checksum_before.to_json() if table.checksum_before else None,
                "engines": [
                    {"id": e.id, "status": int(e.status), "chunks": len(e.chunks), "groups": len(groups.get(e.id, []))}
                    for e in table.engines
                ],
            },
        )

    def _drop_keys(self, name: str) -> None:
        tid = table_id(name)
        meta = self._get(f"{self._prefix}{tid}/table")
        if meta:
            for engine in meta.get("engines", ()):
                for g in range(engine.get("groups", 0)):
                    self._accessor.delete(f"{self._prefix}{tid}/chunks/{engine['id']}/{g}")
            self._accessor.delete(f"{self._prefix}{tid}/table")
        self._tables.pop(name, None)
        self._groups.pop(name, None)


def _group_chunks(chunks: Sequence[ChunkCheckpoint]) -> list[list[ChunkCheckpoint]]:
    """Consecutive chunks packed into groups whose JSON stays under the value limit, with room to grow."""
    groups: list[list[ChunkCheckpoint]] = []
    current: list[ChunkCheckpoint] = []
    size = 0
    for chunk in chunks:
        # Twice the current size: positions, row counts and checksums grow as the chunk is imported.
        estimate = 2 * len(json.dumps(chunk.to_json())) + 64
        if current and size + estimate > VALUE_LIMIT:
            groups.append(current)
            current, size = [], 0
        current.append(chunk)
        size += estimate
    if current:
        groups.append(current)
    return groups
