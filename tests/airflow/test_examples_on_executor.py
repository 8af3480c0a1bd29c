"""The example DAGs on the real services (scheduler, LocalExecutor, api-server), not only under dag.test().

``dag.test()`` runs tasks in the test's process, where Airflow's ban on metadata-DB access from tasks
does not hold; here each task runs in its own task runner process and talks to Airflow through the
Execution API only. (The Params DAG and the maintenance DAG run this way in test_end_to_end.py.)
"""

from __future__ import annotations

import time

import pytest

from airflow_provider_lightning.core.sample import write_shop_dump
from tests.airflow.conftest import shop_counts, upload_headed_csv_dump

SHOP_ROWS = {"customers": 1, "events": 2, "orders": 3}  # rows per customer, as write_shop_dump writes them


def _checksums(client, dag_id: str, run_id: str, task_id: str) -> dict[str, str]:
    path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
    return {p["table"]: p["checksum"] for p in client.request("GET", path).json()["value"]}


@pytest.mark.slow
def test_the_s3_csv_dag_triggered_with_params_imports_a_bucket(
    airflow_services, mysql_server, make_database, s3_server, tmp_path
):
    db = make_database("lt_s3x")
    bucket = upload_headed_csv_dump(s3_server, tmp_path / "csv", rows=70, database=db, prefix="exports/run")
    client = airflow_services.client()
    try:
        airflow_services.wait_for_dag(client, "lightning_s3_csv")
        run = client.trigger_dag_run("lightning_s3_csv", {"bucket": bucket, "prefix": "exports/run"})
        final = airflow_services.wait_for_run(client, "lightning_s3_csv", run["dag_run_id"], ("success", "failed"))
        assert final["state"] == "success", airflow_services.log_tail("scheduler")
        assert shop_counts(mysql_server, db) == {t: 70 * n for t, n in SHOP_ROWS.items()}
        assert _checksums(client, "lightning_s3_csv", run["dag_run_id"], "import_csv.post_process") == {
            f"`{db}`.`{t}`": "ok" for t in SHOP_ROWS
        }
    finally:
        client.close()


@pytest.mark.slow
def test_the_daily_dag_is_scheduled_and_imports_the_dump_of_its_day(airflow_services, mysql_server, daily_dumps):
    """Nobody triggers it: unpaused at creation, the scheduler starts the run of the latest day itself."""
    client = airflow_services.client()
    try:
        airflow_services.wait_for_dag(client, "lightning_mydumper_daily")
        deadline = time.monotonic() + 120
        while True:
            runs = client.request("GET", "/dags/lightning_mydumper_daily/dagRuns").json()["dag_runs"]
            scheduled = [r for r in runs if r["run_type"] == "scheduled"]
            if scheduled:
                break
            assert time.monotonic() < deadline, f"the scheduler made no run: {runs}"
            time.sleep(1)
        run_id = scheduled[0]["dag_run_id"]
        final = airflow_services.wait_for_run(client, "lightning_mydumper_daily", run_id, ("success", "failed"))
        assert final["state"] == "success", airflow_services.log_tail("scheduler")
        assert shop_counts(mysql_server, daily_dumps.db) == {t: 60 * n for t, n in SHOP_ROWS.items()}
        assert _checksums(client, "lightning_mydumper_daily", run_id, "import_dump.post_process") == {
            f"`{daily_dumps.db}`.`{t}`": "ok" for t in SHOP_ROWS
        }
    finally:
        client.close()


@pytest.mark.slow
def test_the_target_password_reaches_no_log_no_xcom_and_no_rendered_field(
    airflow_services, mysql_server, make_database, secret_target, tmp_path
):
    """The connection's password is used by the tasks and shown nowhere: not in any task log, not in
    the services' own logs, not in any XCom, not in the rendered template fields the UI shows."""
    db = make_database("lt_sec")
    source = write_shop_dump(tmp_path / "dump", rows=40, database=db)
    client = airflow_services.client()
    try:
        airflow_services.wait_for_dag(client, "lightning_import_params")
        run = client.trigger_dag_run(
            "lightning_import_params", {"source": str(source), "target_conn_id": secret_target.conn_id}
        )
        run_id = run["dag_run_id"]
        final = airflow_services.wait_for_run(client, "lightning_import_params", run_id, ("success", "failed"))
        assert final["state"] == "success", airflow_services.log_tail("scheduler")
        assert shop_counts(mysql_server, db) == {t: 40 * n for t, n in SHOP_ROWS.items()}

        shown = []
        for ti in client.task_instances("lightning_import_params", run_id):
            base = f"/dags/lightning_import_params/dagRuns/{run_id}/taskInstances/{ti['task_id']}"
            index = {"map_index": ti["map_index"]}
            mapped = f"{base}/{ti['map_index']}" if ti["map_index"] >= 0 else base
            shown.append(client.request("GET", mapped).text)  # with its rendered_fields
            shown.append(client.request("GET", f"{base}/logs/{ti['try_number']}", params=index).text)
            for entry in client.request("GET", f"{base}/xcomEntries", params=index).json()["xcom_entries"]:
                shown.append(client.request("GET", f"{base}/xcomEntries/{entry['key']}", params=index).text)
        # What was looked at is real: rendered fields naming the connection, the import's logs, its XComs.
        # (The UI masks the other connection's password, "lightning", inside the connection's name.)
        assert any('"rendered_fields"' in text and '_secret_target"' in text for text in shown)
        assert any("rows imported" in text for text in shown)
        assert any('"checksum"' in text and '"ok"' in text for text in shown)
        for text in shown:
            assert secret_target.password not in text
        home = airflow_services.home
        for log in [*home.glob("*.log"), *(home / "logs").rglob("*")]:
            if log.is_file():
                assert secret_target.password.encode() not in log.read_bytes(), log
    finally:
        client.close()
