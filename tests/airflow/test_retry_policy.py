"""Retries are spent only where they can help, in a real Airflow run (dag.test, retries 1, no delay).

A parse error fails its ``import_table`` on the first try with what to do next; a target connection
killed on the server is retried and the table ends exact; a fault that stands for a crash is retried by
Airflow and resumes (tests/airflow/test_example_dags.py).
"""

from __future__ import annotations

import json
import uuid

import pytest

from airflow_provider_lightning.core.sample import write_shop_dump
from tests.airflow.conftest import load_dag, shop_counts


@pytest.fixture
def target_db(mysql_server):
    name = f"lt_rp_{uuid.uuid4().hex[:10]}"
    yield name
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def _table_states(run, table: str) -> tuple[str, int]:
    for ti in run.get_task_instances():
        if ti.task_id == "import.import_table" and ti.rendered_map_index == table:
            return str(ti.state), ti.try_number
    raise AssertionError(f"no import_table task instance for {table}")


def test_a_parse_error_fails_the_table_on_its_first_try_with_what_to_do(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path, capfd
):
    source = write_shop_dump(tmp_path / "dump", rows=300, database=target_db)
    broken = source / f"{target_db}.orders.00002.sql"
    broken.write_bytes(broken.read_bytes() + b"INSERT INTO `orders` VALUES (1,'unterminated;\n")
    dag = load_dag(airflow_dags_folder, "lightning_resume_test.py")

    run = dag.test(run_conf={"source": str(source)})

    assert str(run.state) == "failed"
    # table_retries=1 in this DAG: a retryable failure would have had a second try.
    assert _table_states(run, f"`{target_db}`.`orders`") == ("failed", 1)
    assert _table_states(run, f"`{target_db}`.`customers`") == ("success", 1)
    logged = "".join(capfd.readouterr())  # dag.test() prints the task logs
    assert f"{target_db}.orders.00002.sql" in logged
    assert "Retrying cannot help, so this task was not retried" in logged
    assert "lightning ctl checkpoint-dump --airflow-api" in logged and "--run-id" in logged


def test_a_target_connection_killed_on_the_server_is_retried_and_the_table_ends_exact(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path, monkeypatch
):
    source = write_shop_dump(tmp_path / "dump", rows=300, database=target_db)
    failpoints = tmp_path / "failpoints.json"
    # orders: 900 rows in 3 files of 300, batches of 70 rows: the kill lands mid-file.
    failpoints.write_text(json.dumps({"kill-connection": {"table": f"`{target_db}`.`orders`", "batches": 2}}))
    monkeypatch.setenv("LIGHTNING_FAILPOINTS", str(failpoints))
    dag = load_dag(airflow_dags_folder, "lightning_resume_test.py")

    run = dag.test(run_conf={"source": str(source)})

    assert json.loads(failpoints.read_text()) == {}  # the connection was killed
    assert str(run.state) == "success"
    # The kill came after a COMMIT with more batches to go: the writer's next batch met the dead
    # connection and was sent again on a new one (a table that did not retry would have failed).
    assert _table_states(run, f"`{target_db}`.`orders`") == ("success", 1)
    assert shop_counts(mysql_server, target_db) == {"customers": 300, "events": 600, "orders": 900}
    post = run.get_task_instance("import.post_process").xcom_pull(task_ids="import.post_process")
    assert {p["table"]: p["checksum"] for p in post} == {
        f"`{target_db}`.`{t}`": "ok" for t in ("customers", "events", "orders")
    }
