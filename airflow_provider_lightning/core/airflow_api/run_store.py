"""``lightning ctl`` for imports run by Airflow: the checkpoints of one DAG run, through the REST API.

Inside Airflow a table's checkpoints are in the Task State Store of the ``import_table`` task instance
that imports it, and the task checkpoint in ``init_checkpoint``'s. :class:`AirflowRunCheckpointStore`
gathers them into one checkpoint store for a DAG run, reading and writing through the public REST API —
so Lightning's actions (dump, error-ignore, error-destroy, remove) work on them unchanged, from the
command line or from the maintenance DAG.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_lightning.core.checkpoints.model import ChunkCheckpoint, TableCheckpoint, TaskCheckpoint
from airflow_provider_lightning.core.errors import CheckpointError
from airflow_provider_lightning.core.airflow_api.client import AirflowApiClient, RestStateStoreAccessor
from airflow_provider_lightning.core.checkpoints.state_store import TaskStateCheckpointStore


class AirflowRunCheckpointStore:
    """The checkpoints of one DAG run's ``lightning_import`` group, as one store.

    :param group_id: the TaskGroup's id (``lightning_import(task_id=...)``), e.g. ``"import"``.
    """

    def __init__(self, client: AirflowApiClient, dag_id: str, run_id: str, group_id: str) -> None:
        self._client = client
        self.dag_id = dag_id
        self.run_id = run_id
        prefix = f"{group_id}." if group_id else ""
        self._init_task = f"{prefix}init_checkpoint"
        self._import_task = f"{prefix}import_table"
        self.description = f"the Task State Store of DAG {dag_id}, run {run_id} (through the Airflow API)"
        self._stores: dict[int, TaskStateCheckpointStore] | None = None

    def _table_stores(self) -> dict[int, TaskStateCheckpointStore]:
        if self._stores is None:
            indexes = sorted(
                t["map_index"]
                for t in self._client.task_instances(self.dag_id, self.run_id)
                if t["task_id"] == self._import_task
            )
            self._stores = {
                i: TaskStateCheckpointStore(
                    RestStateStoreAccessor(self._client, self.dag_id, self.run_id, self._import_task, i),
                    description=f"{self.description}, {self._import_task}[{i}]",
                )
                for i in indexes
            }
        return self._stores

    def _owner(self, name: str) -> TaskStateCheckpointStore:
        for store in self._table_stores().values():
            if name in store.table_names():
                return store
        raise CheckpointError(f"no checkpoint for table {name} in {self.description}")

    def _init_store(self) -> TaskStateCheckpointStore:
        return TaskStateCheckpointStore(
            RestStateStoreAccessor(self._client, self.dag_id, self.run_id, self._init_task), description=self.description
        )

    def get_task(self) -> TaskCheckpoint | None:
        return self._init_store().get_task()

    def put_task(self, task: TaskCheckpoint) -> None:
        self._init_store().put_task(task)

    def table_names(self) -> list[str]:
        return sorted({n for s in self._table_stores().values() for n in s.table_names()})

    def get_table(self, name: str) -> TableCheckpoint | None:
        for store in self._table_stores().values():
            table = store.get_table(name)
            if table is not None:
                return table
        return None

    def put_table(self, table: TableCheckpoint) -> None:
        self._owner(table.name).put_table(table)

    def update_chunks(self, name: str, engine_id: int, chunks: Sequence[ChunkCheckpoint]) -> None:
        self._owner(name).update_chunks(name, engine_id, chunks)

    def update_status(self, name: str, status: int, *, engine_id: int | None = None) -> None:
        self._owner(name).update_status(name, status, engine_id=engine_id)

    def remove_table(self, name: str) -> None:
        self._owner(name).remove_table(name)

    def remove_all(self) -> None:
        self._client.clear_state(self.dag_id, self.run_id, self._import_task, all_map_indices=True)
        self._client.clear_state(self.dag_id, self.run_id, self._init_task)
        self._stores = None

    def archive(self, import_id: int) -> str:
        """Move every task instance's checkpoints aside within its own state store."""
        for store in (*self._table_stores().values(), self._init_store()):
            store.archive(import_id)
        return f"{self.description}, keys lightning/archive-{import_id}/"

    def close(self) -> None:
        pass


def airflow_ctl_store(
    api_url: str, dag_id: str, run_id: str, *, group_id: str = "import", username: str | None = None,
    password: str | None = None,
) -> tuple[AirflowRunCheckpointStore, Any]:
    """The run's checkpoint store and its API client (close the client when done)."""
    client = AirflowApiClient(api_url, username=username, password=password)
    return AirflowRunCheckpointStore(client, dag_id, run_id, group_id), client
