"""The real Airflow services: trigger through the REST API, fail a table, Clear it, finish exactly."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from airflow_provider_lightning.core.sample import write_shop_dump
from airflow_provider_lightning.core.checkpoints.state_store import TaskStateCheckpointStore
from airflow_provider_lightning.core.airflow_api.client import RestStateStoreAccessor
from tests.airflow.conftest import shop_counts
from tests.airflow.services import API_PASSWORD, API_USER

DAG_ID = "lightning_import_params"
IMPORT_TABLE = "import.import_table"


@pytest.fixture
def target_db(mysql_server):
    name = f"lt_e2e_{uuid.uuid4().hex[:10]}"
    yield name
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


@pytest.mark.slow
def test_a_failed_table_is_cleared_through_the_api_and_the_run_ends_with_every_checksum_equal(
    airflow_services, mysql_server, target_db, tmp_path
):
    # Each of the three orders files is over 2 MiB, three 1 MiB batches: when the first batch of
    # orders commits and the table fails, no orders file can have been finished, so the third is never
    # started and the table is partly imported whichever file commits first.
    source = write_shop_dump(tmp_path / "dump", rows=45_000, database=target_db)
    total = 3 * 45_000  # orders rows
    orders = f"`{target_db}`.`orders`"
    airflow_services.failpoints_file.write_text(
        json.dumps({"fail-after-batches": {"table": orders, "batches": 1}})
    )
    client = airflow_services.client()
    try:
        airflow_services.wait_for_dag(client, DAG_ID)
        # What the UI's trigger form sends: the DAG's Params in the run's conf.
        run = client.trigger_dag_run(
            DAG_ID, {"source": str(source), "conflict_strategy": "error", "table_concurrency": 2}
        )
        run_id = run["dag_run_id"]
        airflow_services.wait_for_run(client, DAG_ID, run_id, ("failed",))

        tis = client.task_instances(DAG_ID, run_id)
        failed = [t for t in tis if t["task_id"] == IMPORT_TABLE and t["state"] == "failed"]
        assert [t["rendered_map_index"] for t in failed] == [orders]
        map_index = failed[0]["map_index"]
        assert {t["task_id"]: t["state"] for t in tis if t["task_id"] == "import.post_process"} == {
            "import.post_process": "upstream_failed"
        }

        # While it is failed, its checkpoints are readable through the REST API's state store endpoint.
        raw = client.list_state(DAG_ID, run_id, IMPORT_TABLE, map_index)
        assert "lightning/tables" in raw
        store = TaskStateCheckpointStore(RestStateStoreAccessor(client, DAG_ID, run_id, IMPORT_TABLE, map_index))
        checkpoint = store.get_table(orders)
        assert checkpoint is not None and checkpoint.status <= 25  # an error state, as Lightning records it
        committed_before = shop_counts(mysql_server, target_db)["orders"]

        # lightning ctl sees the same, through the API (what an operator does at 3 a.m.).
        dump = subprocess.run(
            [str(Path(sys.executable).with_name("lightning")), "ctl", "checkpoint-dump",
             "--airflow-api", airflow_services.base_url, "--airflow-user", API_USER,
             "--airflow-password", API_PASSWORD, "--dag-id", DAG_ID, "--run-id", run_id,
             "--target", f"mysql://{mysql_server.user}:{mysql_server.password}@{mysql_server.host}:{mysql_server.port}"],
            capture_output=True, text=True, timeout=120,
        )
        assert dump.returncode == 0, dump.stderr
        assert orders in dump.stdout and "failed at" in dump.stdout

        # ... and so does the maintenance DAG, triggered like any other.
        airflow_services.wait_for_dag(client, "lightning_maintenance")
        maintenance = client.trigger_dag_run(
            "lightning_maintenance", {"action": "checkpoint-dump", "dag_id": DAG_ID, "run_id": run_id}
        )
        done = airflow_services.wait_for_run(
            client, "lightning_maintenance", maintenance["dag_run_id"], ("success", "failed")
        )
        assert done["state"] == "success"
        text = client.request(
            "GET", f"/dags/lightning_maintenance/dagRuns/{maintenance['dag_run_id']}/taskInstances/checkpoint_ctl"
            "/xcomEntries/return_value"
        ).json()["value"]
        assert orders in text and "failed at" in text
        assert 0 < committed_before < total
        assert checkpoint.rows <= committed_before

        # What the UI's Clear does, for the failed table and what comes after it.
        client.clear_task_instances(DAG_ID, run_id, [(IMPORT_TABLE, map_index), "import.post_process",
                                                     "import.clean_checkpoints"])
        final = airflow_services.wait_for_run(client, DAG_ID, run_id, ("success", "failed"))
        assert final["state"] == "success", airflow_services.log_tail("scheduler")

        post = client.request(
            "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/import.post_process/xcomEntries/return_value"
        ).json()["value"]
        assert {p["table"]: p["checksum"] for p in post} == {
            f"`{target_db}`.`{t}`": "ok" for t in ("customers", "events", "orders")
        }
        assert shop_counts(mysql_server, target_db)["orders"] == total
        results = client.request(
            "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{IMPORT_TABLE}/xcomEntries/return_value",
            params={"map_index": map_index},
        ).json()["value"]
        assert results[0]["rows_written"] == total - committed_before
    finally:
        client.close()
