"""The Airflow path takes the same table lease as the command: an import_table task instance holds its
table, names its dag run, task and try in the lease, and a ``lightning import`` meanwhile is refused."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from airflow_provider_lightning.core.sample import write_shop_dump
from tests.airflow.conftest import load_dag, shop_counts
from tests.kill_scenario import LightningRun


@pytest.fixture
def target_db(mysql_server):
    name = f"lt_afl_{uuid.uuid4().hex[:10]}"
    yield name
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def test_a_command_line_import_is_refused_a_table_an_airflow_task_holds(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path, monkeypatch
):
    source = write_shop_dump(tmp_path / "dump", rows=100, database=target_db)
    orders = f"`{target_db}`.`orders`"
    go = tmp_path / "go"
    failpoints = tmp_path / "failpoints.json"
    failpoints.write_text(json.dumps({"pause-after-lease": {"table": orders, "until": str(go)}}))
    monkeypatch.setenv("LIGHTNING_FAILPOINTS", str(failpoints))
    config = tmp_path / "cli.toml"
    config.write_text(
        f"""[tidb]
host = "{mysql_server.host}"
port = {mysql_server.port}
user = "{mysql_server.user}"
password = "{mysql_server.password}"

[mydumper]
data-source-dir = "{source}"
filter = ["{target_db}.orders"]

[checkpoint]
driver = "file"
dsn = "{tmp_path / 'cli-checkpoint.json'}"
"""
    )
    seen: dict[str, object] = {}

    def while_airflow_holds_orders() -> None:
        try:
            paused = go.with_name(go.name + ".paused")
            deadline = time.monotonic() + 120
            while not paused.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            seen["paused"] = paused.exists()
            conn = mysql_server.connect()
            with conn.cursor() as cur:
                cur.execute("SELECT owner FROM lightning_task_info.table_leases_v1 WHERE table_name = %s", (orders,))
                seen["owners"] = [r[0] for r in cur.fetchall()]
            conn.close()
            run = LightningRun(config, log_dir=tmp_path / "cli-logs", env={"LIGHTNING_FAILPOINTS": ""})
            seen["exit"] = run.wait(120)
            seen["output"] = run.output
        finally:
            go.touch()  # the DAG run goes on whatever happened here

    helper = threading.Thread(target=while_airflow_holds_orders)
    helper.start()
    dag = load_dag(airflow_dags_folder, "lightning_resume_test.py")
    run = dag.test(run_conf={"source": str(source)})
    helper.join()

    assert seen["paused"], "the import_table task of orders never reached its lease"
    assert len(seen["owners"]) == 1
    assert seen["owners"][0].startswith("Airflow dag lightning_resume_test, run ")
    assert "task import.import_table[" in seen["owners"][0] and seen["owners"][0].endswith("try 1")
    assert seen["exit"] != 0
    assert f"table {orders} is being imported by import task" in seen["output"]
    assert "Airflow dag lightning_resume_test" in seen["output"]
    assert str(run.state) == "success"
    assert shop_counts(mysql_server, target_db) == {"customers": 100, "events": 200, "orders": 300}
