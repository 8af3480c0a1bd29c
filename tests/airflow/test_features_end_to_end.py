"""Documented Airflow features proven by real runs (``dag.test()``, the Task State Store in the metadata
DB): a table with more chunks than one stored value holds, and a run with more tables than
``max_map_length``, each failing mid-table and resumed by Airflow's retry to an exact end.

The REST API side (``clean_checkpoints`` through ``api_conn_id``, the maintenance DAG's actions) is in
tests/airflow/test_features_on_services.py.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest

from airflow_provider_lightning.core.checkpoints.state_store import PREFIX, VALUE_LIMIT
from airflow_provider_lightning.core.sample import SBTEST, write_shop_dump, write_table
from tests.airflow.conftest import SHOP_TABLES, load_dag, shop_counts

DAG_FILE = "lightning_features_test.py"
IMPORT_TABLE = "import.import_table"


@pytest.fixture
def target_db(mysql_server):
    name = f"lt_fe_{uuid.uuid4().hex[:10]}"
    yield name
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def _instance_of(run, table: str):
    """The import_table task instance whose tables include ``table``."""
    for ti in run.get_task_instances():
        if ti.task_id == IMPORT_TABLE and table in (ti.rendered_map_index or "").split(", "):
            return ti
    raise AssertionError(f"no import_table task instance holds {table}")


def _results(run, ti) -> dict[str, dict]:
    results = ti.xcom_pull(task_ids=IMPORT_TABLE, map_indexes=ti.map_index)
    return {r["table"]: r for r in results}


def _stored_values(run, task_id: str, map_index: int) -> dict[str, str]:
    """The Task State Store rows of one task instance, read from the metadata DB (test code may)."""
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskStateStoreModel).filter_by(
            dag_id=run.dag_id, run_id=run.run_id, task_id=task_id, map_index=map_index
        )
        return {row.key: row.value for row in rows}


def _checksums(run) -> dict[str, str]:
    post = run.get_task_instance("import.post_process").xcom_pull(task_ids="import.post_process")
    return {p["table"]: p["checksum"] for p in post}


def _count(server, db: str, table: str) -> int:
    conn = server.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM `{table}`")
            return cur.fetchone()[0]
    finally:
        conn.close()


@pytest.mark.slow
def test_a_table_whose_chunks_fill_several_stored_values_fails_midway_and_its_retry_ends_exact(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path, monkeypatch
):
    rows = 3600
    source = tmp_path / "dump"
    # ~700 KB in 4 KiB chunks: about 165 chunks of 22 rows, one batch each; their checkpoints take
    # about 50 KB of JSON, more than one stored value may hold.
    write_table(source, replace(SBTEST, schema=target_db), rows, fmt="csv")
    table = f"`{target_db}`.`{SBTEST.name}`"
    failpoints = tmp_path / "failpoints.json"
    failpoints.write_text(json.dumps({"fail-after-batches": {"table": table, "batches": 40}}))
    monkeypatch.setenv("LIGHTNING_FAILPOINTS", str(failpoints))
    dag = load_dag(airflow_dags_folder, DAG_FILE, "lightning_features_test")

    run = dag.test(run_conf={"source": str(source)})

    assert json.loads(failpoints.read_text()) == {}  # the table failed once
    assert str(run.state) == "success"
    ti = _instance_of(run, table)
    assert (str(ti.state), ti.try_number) == ("success", 2)  # failed, then resumed by the retry
    result = _results(run, ti)[table]
    assert result["rows"] == rows
    assert 0 < result["rows_written"] < rows  # the retry skipped what the first try committed
    assert _count(mysql_server, target_db, SBTEST.name) == rows
    assert _checksums(run) == {table: "ok"}

    # The chunk checkpoints are spread over several values, each under the limit Airflow accepts.
    stored = _stored_values(run, IMPORT_TABLE, ti.map_index)
    chunk_keys = [k for k in stored if k.startswith(PREFIX) and "/chunks/" in k]
    chunks = sum(len(json.loads(stored[k])) for k in chunk_keys)
    assert len(chunk_keys) >= 2, f"{len(chunk_keys)} chunk value(s) for the table: {sorted(stored)}"
    assert all(len(v.encode()) < 65_535 for v in stored.values())
    assert sum(len(stored[k]) for k in chunk_keys) > VALUE_LIMIT
    assert chunks > 100


@pytest.mark.slow
def test_a_run_with_more_tables_than_max_map_length_fails_mid_table_and_its_retry_ends_exact(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path, monkeypatch
):
    source = write_shop_dump(tmp_path / "dump", rows=300, database=target_db)  # 3 tables, SQL
    for extra in ("audit_1", "audit_2"):
        write_table(source, replace(SBTEST, schema=target_db, name=extra), 200)
    tables = [*SHOP_TABLES, "audit_1", "audit_2"]
    orders = f"`{target_db}`.`orders`"
    failpoints = tmp_path / "failpoints.json"
    # orders: 900 rows in 3 files, batches of 70: the table fails after its 3rd committed batch.
    failpoints.write_text(json.dumps({"fail-after-batches": {"table": orders, "batches": 3}}))
    monkeypatch.setenv("LIGHTNING_FAILPOINTS", str(failpoints))
    dag = load_dag(airflow_dags_folder, DAG_FILE, "lightning_features_test")

    run = dag.test(run_conf={"source": str(source)})

    assert json.loads(failpoints.read_text()) == {}
    assert str(run.state) == "success"
    mapped = sorted(ti.map_index for ti in run.get_task_instances() if ti.task_id == IMPORT_TABLE)
    assert mapped == [0, 1]  # five tables in two task instances
    ti = _instance_of(run, orders)
    assert (str(ti.state), ti.try_number) == ("success", 2)
    results = _results(run, ti)
    assert len(results) >= 2  # orders shared its task instance
    assert results[orders]["rows"] == 900
    assert results[orders]["rows_written"] == 900 - 3 * 70  # resumed after the committed batches
    assert shop_counts(mysql_server, target_db) == {"customers": 300, "events": 600, "orders": 900}
    assert _count(mysql_server, target_db, "audit_1") == _count(mysql_server, target_db, "audit_2") == 200
    assert _checksums(run) == {f"`{target_db}`.`{t}`": "ok" for t in tables}
