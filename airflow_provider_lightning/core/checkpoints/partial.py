"""Checkpoint stores that see part of an import: what one Airflow task of the TaskGroup can reach.

Inside Airflow each task reads and writes only its own Task State Store, so no task holds the whole
import's checkpoints: ``init_checkpoint`` keeps the task checkpoint, each ``import_table`` the tables it
imports. These stores give the steps the full :class:`CheckpointStore` interface over such a part, so the
steps stay the same functions the ``lightning`` command runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_lightning.core.checkpoints.model import ChunkCheckpoint, TableCheckpoint, TaskCheckpoint
from airflow_provider_lightning.core.checkpoints.store import CheckpointStore
from airflow_provider_lightning.core.errors import CheckpointError


class TaskOnlyStore:
    """The task checkpoint of ``inner``, and no tables: ``init_checkpoint``'s view inside Airflow.

    The table checkpoints are made by the ``import_table`` task instance that owns each table (in its own
    state store), so ``put_table`` keeps nothing here and there is never a table to update.
    """

    def __init__(self, inner: CheckpointStore) -> None:
        self._inner = inner
        self.description = inner.description

    def get_task(self) -> TaskCheckpoint | None:
        return self._inner.get_task()

    def put_task(self, task: TaskCheckpoint) -> None:
        self._inner.put_task(task)

    def table_names(self) -> list[str]:
        return []

    def get_table(self, name: str) -> TableCheckpoint | None:
        return None

    def put_table(self, table: TableCheckpoint) -> None:
        """Kept by the table's own ``import_table`` task instance, not here."""

    def update_chunks(self, name: str, engine_id: int, chunks: Sequence[ChunkCheckpoint]) -> None:
        raise CheckpointError(f"{self.description} keeps no table checkpoints (table {name})")

    def update_status(self, name: str, status: int, *, engine_id: int | None = None) -> None:
        raise CheckpointError(f"{self.description} keeps no table checkpoints (table {name})")

    def remove_table(self, name: str) -> None:
        """There are no tables here to remove."""

    def remove_all(self) -> None:
        self._inner.remove_all()

    def archive(self, import_id: int) -> str:
        return self._inner.archive(import_id)

    def close(self) -> None:
        self._inner.close()


class ExpiringStateStore:
    """The Task State Store rows of a DAG run that this task cannot reach (no Airflow API connection):
    nothing to read, and removing them means leaving them to expire with the store's retention."""

    def __init__(self, task: TaskCheckpoint | None = None) -> None:
        self._task = task
        self.description = (
            "the Task State Store of this DAG run (left to expire after [state_store] default_retention_days; "
            "give the TaskGroup an api_conn_id to clear them at once)"
        )

    def get_task(self) -> TaskCheckpoint | None:
        return self._task

    def put_task(self, task: TaskCheckpoint) -> None:
        self._task = task

    def table_names(self) -> list[str]:
        return []

    def get_table(self, name: str) -> TableCheckpoint | None:
        return None

    def put_table(self, table: TableCheckpoint) -> None:
        raise CheckpointError(f"{self.description} cannot be written from this task (table {table.name})")

    def update_chunks(self, name: str, engine_id: int, chunks: Sequence[ChunkCheckpoint]) -> None:
        raise CheckpointError(f"{self.description} cannot be written from this task (table {name})")

    def update_status(self, name: str, status: int, *, engine_id: int | None = None) -> None:
        raise CheckpointError(f"{self.description} cannot be written from this task (table {name})")

    def remove_table(self, name: str) -> None:
        """Left to expire."""

    def remove_all(self) -> None:
        """Left to expire."""

    def archive(self, import_id: int) -> str:
        return self.description

    def close(self) -> None:
        pass
