"""The example DAGs, run for real with dag.test(): imports arrive equal to their sources."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timezone

import pytest

from airflow_provider_lightning.core.sample import write_shop_dump
from tests.airflow.conftest import EXAMPLES, SHOP_TABLES, load_dag, shop_counts, upload_headed_csv_dump

def _unique_db() -> str:
    return f"lt_af_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def target_db(mysql_server):
    name = _unique_db()
    yield name
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def _task_states(run) -> dict[tuple[str, int], tuple[str, int]]:
    return {(ti.task_id, ti.map_index): (str(ti.state), ti.try_number) for ti in run.get_task_instances()}


def test_example_dags_import_without_errors():
    out = subprocess.run(
        [sys.executable, "-c",
         "import json,sys; from airflow.dag_processing.dagbag import DagBag; "
         f"b = DagBag({str(EXAMPLES)!r}); print(json.dumps([sorted(b.dag_ids), b.import_errors]))"],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    dag_ids, errors = json.loads(out.strip().splitlines()[-1])
    assert errors == {}
    assert dag_ids == ["lightning_import_params", "lightning_maintenance", "lightning_mydumper_daily", "lightning_s3_csv"]


def test_importing_an_example_dag_file_opens_no_file_and_no_connection(airflow_dags_folder):
    # The scheduler parses DAG files every few seconds: a parse must do no I/O. Audit hooks see every
    # open() and socket connect made while the file is imported.
    code = (
        "import sys, importlib.util\n"
        "seen = []\n"
        "import airflow.sdk, airflow_provider_lightning.taskgroup\n"
        "sys.addaudithook(lambda e, a: seen.append((e, str(a[0]))) if e in ('open', 'socket.connect') else None)\n"
        f"spec = importlib.util.spec_from_file_location('d', {str(EXAMPLES / 'lightning_import_params.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "code = ('.py', '.pyc', '.so')\n"
        "print([s for s in seen if s[0] == 'socket.connect' or not (s[1].endswith(code) or s[1].startswith(sys.prefix) or s[1] == '/dev/null' or s[1].isdigit())])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_params_dag_imports_a_dump_with_every_table_checksummed(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path
):
    source = write_shop_dump(tmp_path / "dump", rows=200, database=target_db)
    dag = load_dag(airflow_dags_folder, "lightning_import_params.py")

    run = dag.test(run_conf={"source": str(source), "table_concurrency": 2})

    assert str(run.state) == "success"
    assert shop_counts(mysql_server, target_db) == {"customers": 200, "events": 400, "orders": 600}
    states = _task_states(run)
    assert [k for k in states if k[0] == "import.import_table"] == [
        ("import.import_table", 0), ("import.import_table", 1), ("import.import_table", 2)
    ]
    post = run.get_task_instance("import.post_process").xcom_pull(task_ids="import.post_process")
    assert {p["table"]: p["checksum"] for p in post} == {f"`{target_db}`.`{t}`": "ok" for t in SHOP_TABLES}


def test_the_daily_dag_imports_the_dump_of_its_day(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path, monkeypatch
):
    monkeypatch.setenv("LIGHTNING_DUMP_ROOT", str(tmp_path / "dumps"))
    write_shop_dump(tmp_path / "dumps" / "2026-03-04", rows=50, database=target_db)
    dag = load_dag(airflow_dags_folder, "lightning_mydumper_daily.py")

    run = dag.test(logical_date=datetime(2026, 3, 4, tzinfo=timezone.utc))

    assert str(run.state) == "success"
    assert shop_counts(mysql_server, target_db) == {"customers": 50, "events": 100, "orders": 150}


def test_the_s3_dag_imports_csv_files_from_a_bucket(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path, s3_server, monkeypatch
):
    bucket = upload_headed_csv_dump(s3_server, tmp_path / "csv", rows=80, database=target_db, prefix="exports/today")
    monkeypatch.setenv("AIRFLOW_CONN_LIGHTNING_S3", s3_server.airflow_connection())
    dag = load_dag(airflow_dags_folder, "lightning_s3_csv.py")

    run = dag.test(run_conf={"bucket": bucket, "prefix": "exports/today"})

    assert str(run.state) == "success"
    assert shop_counts(mysql_server, target_db) == {"customers": 80, "events": 160, "orders": 240}


def test_a_table_that_fails_midway_resumes_on_retry_without_resending_committed_rows(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path, monkeypatch
):
    source = write_shop_dump(tmp_path / "dump", rows=300, database=target_db)
    failpoints = tmp_path / "failpoints.json"
    # orders: 900 rows in 3 files; batches of 70 rows; the table fails after its 3rd committed batch.
    failpoints.write_text(json.dumps({"fail-after-batches": {"table": f"`{target_db}`.`orders`", "batches": 3}}))
    monkeypatch.setenv("LIGHTNING_FAILPOINTS", str(failpoints))
    dag = load_dag(airflow_dags_folder, "lightning_resume_test.py")

    run = dag.test(run_conf={"source": str(source)})

    assert str(run.state) == "success"
    assert json.loads(failpoints.read_text()) == {}  # the fault fired
    states = _task_states(run)
    orders_index = next(
        i for (task, i) in states if task == "import.import_table"
        and run.get_task_instance("import.import_table", map_index=i).rendered_map_index == f"`{target_db}`.`orders`"
    )
    assert states[("import.import_table", orders_index)] == ("success", 2)  # failed once, resumed once
    result = run.get_task_instance("import.import_table", map_index=orders_index).xcom_pull(
        task_ids="import.import_table", map_indexes=orders_index
    )
    assert result[0]["rows"] == 900
    assert result[0]["rows_written"] == 900 - 3 * 70
    assert shop_counts(mysql_server, target_db)["orders"] == 900
    post = run.get_task_instance("import.post_process").xcom_pull(task_ids="import.post_process")
    assert all(p["checksum"] == "ok" for p in post)


def test_more_tables_than_map_indexes_share_task_instances(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path
):
    source = write_shop_dump(tmp_path / "dump", rows=40, database=target_db)
    dag = load_dag(airflow_dags_folder, "lightning_grouped_test.py")

    run = dag.test(run_conf={"source": str(source)})

    assert str(run.state) == "success"
    mapped = sorted(k[1] for k in _task_states(run) if k[0] == "import.import_table")
    assert mapped == [0, 1]  # three tables in two task instances
    assert shop_counts(mysql_server, target_db) == {"customers": 40, "events": 80, "orders": 120}
    post = run.get_task_instance("import.post_process").xcom_pull(task_ids="import.post_process")
    assert sorted(p["table"] for p in post) == [f"`{target_db}`.`{t}`" for t in SHOP_TABLES]


def test_imported_tables_are_announced_as_assets(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path
):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    source = write_shop_dump(tmp_path / "dump", rows=20, database=target_db)
    dag = load_dag(airflow_dags_folder, "lightning_import_params.py")

    run = dag.test(run_conf={"source": str(source)})

    assert str(run.state) == "success"
    with create_session() as session:  # the test reads the metadata DB; the tasks never did
        uris = set(session.scalars(
            select(AssetModel.uri).join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_run_id == run.run_id)
        ))
    host = f"{mysql_server.host}:{mysql_server.port}"
    assert uris == {f"mysql://{host}/{target_db}/{t}" for t in SHOP_TABLES}
