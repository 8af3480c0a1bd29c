"""Documented Airflow features proven on the real services (api-server + scheduler + dag-processor):
``clean_checkpoints`` clears the run's Task State Store through ``api_conn_id``, and the maintenance DAG's
``checkpoint-error-ignore``, ``checkpoint-error-destroy`` and ``checkpoint-remove`` act on a failed run as
its docstring says. Everything is triggered and inspected through the REST API, as a user would.

The three failed runs start together (one fixture for the module) so their imports overlap.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_lightning.core.airflow_api.client import AirflowApiError, RestStateStoreAccessor
from airflow_provider_lightning.core.checkpoints.state_store import TaskStateCheckpointStore
from airflow_provider_lightning.core.sample import write_shop_dump
from tests.airflow.conftest import SHOP_TABLES, shop_counts

DAG_ID = "lightning_api_clean_test"  # tests/airflow/dags/lightning_features_test.py
MAINTENANCE = "lightning_maintenance"
IMPORT_TABLE = "import.import_table"
ROWS = 1500  # orders: 4500 rows in 3 files
ORDERS_TOTAL = 3 * ROWS


@dataclass
class FailedRun:
    db: str
    source: Path
    run_id: str
    broken_file: Path | None = None
    original: bytes = b""

    @property
    def orders(self) -> str:
        return f"`{self.db}`.`orders`"


def _wait(services, client, dag_id: str, run_id: str, states: tuple[str, ...], timeout: float = 300) -> dict:
    """``wait_for_run``, patient with an API server that is slow to answer on a loaded machine."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return services.wait_for_run(client, dag_id, run_id, states, timeout=max(1.0, deadline - time.monotonic()))
        except AirflowApiError as exc:
            if not exc.retryable or time.monotonic() > deadline:
                raise
            time.sleep(2)


def _orders_map_index(client, run: FailedRun) -> int:
    (ti,) = [t for t in client.task_instances(DAG_ID, run.run_id)
             if t["task_id"] == IMPORT_TABLE and t["rendered_map_index"] == run.orders]
    return ti["map_index"]


def _store(client, run: FailedRun, map_index: int) -> TaskStateCheckpointStore:
    return TaskStateCheckpointStore(RestStateStoreAccessor(client, DAG_ID, run.run_id, IMPORT_TABLE, map_index))


def _maintain(services, client, action: str, run: FailedRun, table: str) -> str:
    """Trigger the maintenance DAG as its trigger form would; returns what its task returned."""
    maintenance = client.trigger_dag_run(
        MAINTENANCE, {"action": action, "table": table, "dag_id": DAG_ID, "run_id": run.run_id}
    )
    done = _wait(services, client, MAINTENANCE, maintenance["dag_run_id"], ("success", "failed"))
    assert done["state"] == "success", services.log_tail("scheduler")
    return client.request(
        "GET", f"/dags/{MAINTENANCE}/dagRuns/{maintenance['dag_run_id']}/taskInstances/checkpoint_ctl"
        "/xcomEntries/return_value"
    ).json()["value"]


def _clear_orders_and_finish(services, client, run: FailedRun) -> dict:
    """What the UI's Clear does, for the failed table and what comes after it; waits for the run's end."""
    client.clear_task_instances(DAG_ID, run.run_id, [(IMPORT_TABLE, _orders_map_index(client, run)),
                                                     "import.post_process", "import.clean_checkpoints"])
    return _wait(services, client, DAG_ID, run.run_id, ("success", "failed"))


def _xcom(client, run: FailedRun, task_id: str, map_index: int = -1):
    return client.request(
        "GET", f"/dags/{DAG_ID}/dagRuns/{run.run_id}/taskInstances/{task_id}/xcomEntries/return_value",
        params={"map_index": map_index},
    ).json()["value"]


@pytest.fixture(scope="module")
def failed_runs(airflow_services, mysql_server, tmp_path_factory):
    """Three runs whose ``orders`` failed: by a fault mid-table (``ignore``), by a broken statement at
    the end of its second file (``destroy``, ``remove``)."""
    client = airflow_services.client()
    runs: dict[str, FailedRun] = {}
    try:
        airflow_services.wait_for_dag(client, DAG_ID)
        airflow_services.wait_for_dag(client, MAINTENANCE)
        for action in ("ignore", "destroy", "remove"):
            db = f"lt_fs_{action}_{uuid.uuid4().hex[:8]}"
            source = write_shop_dump(tmp_path_factory.mktemp(action) / "dump", rows=ROWS, database=db)
            run = FailedRun(db, source, "")
            if action == "ignore":
                airflow_services.failpoints_file.write_text(
                    json.dumps({"fail-after-batches": {"table": run.orders, "batches": 1}})
                )
            else:
                run.broken_file = source / f"{db}.orders.00002.sql"
                run.original = run.broken_file.read_bytes()
                run.broken_file.write_bytes(run.original + b"INSERT INTO `orders` VALUES (1,'unterminated;\n")
            run.run_id = client.trigger_dag_run(DAG_ID, {"source": str(source)})["dag_run_id"]
            runs[action] = run
        for run in runs.values():
            _wait(airflow_services, client, DAG_ID, run.run_id, ("failed",))
        yield client, runs
    finally:
        client.close()
        conn = mysql_server.connect()
        with conn.cursor() as cur:
            for run in runs.values():
                cur.execute(f"DROP DATABASE IF EXISTS `{run.db}`")
        conn.close()


@pytest.mark.slow
def test_error_ignore_keeps_the_progress_and_clean_checkpoints_clears_the_state_store_through_the_api(
    airflow_services, failed_runs, mysql_server
):
    client, runs = failed_runs
    run = runs["ignore"]
    map_index = _orders_map_index(client, run)
    assert _store(client, run, map_index).get_table(run.orders).status <= 25  # an error state
    committed_before = shop_counts(mysql_server, run.db)["orders"]
    assert 0 < committed_before < ORDERS_TOTAL

    said = _maintain(airflow_services, client, "checkpoint-error-ignore", run, run.orders)

    assert "cleared the error state" in said and run.orders in said
    checkpoint = _store(client, run, map_index).get_table(run.orders)
    assert checkpoint is not None and checkpoint.status > 25  # no longer an error, progress kept
    assert shop_counts(mysql_server, run.db)["orders"] == committed_before

    final = _clear_orders_and_finish(airflow_services, client, run)

    assert final["state"] == "success", airflow_services.log_tail("scheduler")
    assert shop_counts(mysql_server, run.db) == {"customers": ROWS, "events": 2 * ROWS, "orders": ORDERS_TOTAL}
    assert {p["table"]: p["checksum"] for p in _xcom(client, run, "import.post_process")} == {
        f"`{run.db}`.`{t}`": "ok" for t in SHOP_TABLES
    }
    (result,) = [r for r in _xcom(client, run, IMPORT_TABLE, map_index) if r["table"] == run.orders]
    assert result["rows_written"] == ORDERS_TOTAL - committed_before  # resumed, not restarted
    # clean_checkpoints cleared the run's Task State Store rows through the REST API.
    said = _xcom(client, run, "import.clean_checkpoints")
    assert said.startswith(f"removed the checkpoints from the Task State Store of DAG {DAG_ID}, run {run.run_id}")
    indexes = {t["map_index"] for t in client.task_instances(DAG_ID, run.run_id) if t["task_id"] == IMPORT_TABLE}
    assert indexes
    for index in indexes:
        assert client.list_state(DAG_ID, run.run_id, IMPORT_TABLE, index) == {}
    assert client.list_state(DAG_ID, run.run_id, "import.init_checkpoint") == {}


@pytest.mark.slow
def test_error_destroy_empties_the_table_and_forgets_its_checkpoints_so_clear_imports_it_from_scratch(
    airflow_services, failed_runs, mysql_server
):
    client, runs = failed_runs
    run = runs["destroy"]
    map_index = _orders_map_index(client, run)
    assert _store(client, run, map_index).get_table(run.orders).status <= 25

    said = _maintain(airflow_services, client, "checkpoint-error-destroy", run, run.orders)

    # Emptied, not dropped: Clearing import_table (below) does not run restore_schema again.
    assert "emptied" in said and run.orders in said
    assert _store(client, run, map_index).get_table(run.orders) is None
    assert shop_counts(mysql_server, run.db) == {"customers": ROWS, "events": 2 * ROWS, "orders": 0}

    run.broken_file.write_bytes(run.original)  # the cause fixed
    final = _clear_orders_and_finish(airflow_services, client, run)

    assert final["state"] == "success", airflow_services.log_tail("scheduler")
    assert shop_counts(mysql_server, run.db)["orders"] == ORDERS_TOTAL
    (result,) = [r for r in _xcom(client, run, IMPORT_TABLE, map_index) if r["table"] == run.orders]
    assert result["rows_written"] == ORDERS_TOTAL  # from scratch
    assert {p["table"]: p["checksum"] for p in _xcom(client, run, "import.post_process")} == {
        f"`{run.db}`.`{t}`": "ok" for t in SHOP_TABLES
    }


@pytest.mark.slow
def test_remove_forgets_the_tables_checkpoints_and_leaves_its_rows_in_the_target(
    airflow_services, failed_runs, mysql_server
):
    client, runs = failed_runs
    run = runs["remove"]
    map_index = _orders_map_index(client, run)
    assert _store(client, run, map_index).get_table(run.orders) is not None
    rows_before = shop_counts(mysql_server, run.db)["orders"]
    assert rows_before > 0

    said = _maintain(airflow_services, client, "checkpoint-remove", run, run.orders)

    assert "removed the checkpoints of" in said and run.orders in said
    assert _store(client, run, map_index).get_table(run.orders) is None
    assert not [k for k in client.list_state(DAG_ID, run.run_id, IMPORT_TABLE, map_index) if "/chunks/" in k]
    assert shop_counts(mysql_server, run.db)["orders"] == rows_before  # the target keeps its rows

