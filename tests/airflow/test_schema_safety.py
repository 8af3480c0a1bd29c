"""Inside Airflow, the schema task refuses a dump's view over an existing table, as the command line does:
the operators call the same core step, and the task fails before any DDL."""

from __future__ import annotations

import uuid

import pytest

from tests.airflow.conftest import load_dag


@pytest.fixture
def target_db(mysql_server):
    name = f"lt_af_{uuid.uuid4().hex[:10]}"
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE TABLE `{name}`.important (a int)")
        cur.execute(f"INSERT INTO `{name}`.important VALUES (1), (2), (3)")
    conn.close()
    yield name
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def test_the_restore_schema_task_fails_and_the_table_under_a_dumped_view_keeps_its_rows(
    airflow_db, airflow_dags_folder, target_connection, mysql_server, target_db, tmp_path, capfd
):
    source = tmp_path / "dump"
    source.mkdir()
    (source / f"{target_db}.important-schema-view.sql").write_text("CREATE VIEW important AS SELECT 1 AS a;\n")
    dag = load_dag(airflow_dags_folder, "lightning_import_params.py")

    run = dag.test(run_conf={"source": str(source)})

    assert str(run.state) == "failed"
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["import.restore_schema"] == "failed"
    assert states["import.precheck"] != "success"
    logged = "".join(capfd.readouterr())  # the task log: the step's own error, not another one
    assert f"`{target_db}`.`important`: the dump has a view" in logged
    conn = mysql_server.connect(target_db)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'important'",
            (target_db,),
        )
        assert cur.fetchall() == (("BASE TABLE",),)
        cur.execute("SELECT a FROM important ORDER BY a")
        assert cur.fetchall() == ((1,), (2,), (3,))
    conn.close()
