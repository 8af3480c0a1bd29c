"""Airflow for the tests: a metadata DB (SQLite), a dags folder with the example DAGs, connections."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "dags" / "examples"
TEST_DAGS = Path(__file__).resolve().parent / "dags"


@pytest.fixture(scope="session")
def airflow_dags_folder() -> Path:
    """The configured dags folder, holding copies of the example DAGs and of tests/airflow/dags."""
    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    for source in (*EXAMPLES.glob("*.py"), *TEST_DAGS.glob("*.py")):
        shutil.copy(source, folder / source.name)
    return folder


@pytest.fixture(scope="session")
def airflow_db(airflow_dags_folder) -> Path:
    """A migrated metadata DB (SQLite in AIRFLOW_HOME), made once per session."""
    home = Path(os.environ["AIRFLOW_HOME"])
    marker = home / ".migrated"
    if not marker.exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            capture_output=True,
            timeout=300,
        )
        marker.write_text("ok")
    return home


@pytest.fixture
def target_connection(mysql_server, monkeypatch) -> str:
    """The ``lightning_target`` connection (type mysql) pointing at the test server."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIGHTNING_TARGET",
        f"mysql://{mysql_server.user}:{mysql_server.password}@{mysql_server.host}:{mysql_server.port}",
    )
    return "lightning_target"


def load_dag(dags_folder: Path, file_name: str, dag_id: str | None = None):
    """Import a DAG file from the dags folder and return its DAG."""
    from airflow.sdk import DAG

    path = dags_folder / file_name
    spec = importlib.util.spec_from_file_location(f"dagfile_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = [v for v in vars(module).values() if isinstance(v, DAG)]
    if dag_id is not None:
        dags = [d for d in dags if d.dag_id == dag_id]
    assert len(dags) == 1, f"{file_name} defines {len(dags)} matching DAGs"
    return dags[0]


@pytest.fixture(scope="session")
def airflow_services(tmp_path_factory, mysql_server):
    """api-server + scheduler + dag-processor (LocalExecutor) on a PostgreSQL metadata DB, for the session."""
    from tests.airflow.services import drop_postgres_database, start_airflow_services

    target = f"mysql://{mysql_server.user}:{mysql_server.password}@{mysql_server.host}:{mysql_server.port}"
    services = start_airflow_services(
        tmp_path_factory.mktemp("airflow-services"),
        extra_env={
            "AIRFLOW_CONN_LIGHTNING_TARGET": target,
            # Failed tables stay failed until cleared, so the tests decide when they resume.
            "LIGHTNING_EXAMPLE_TABLE_RETRIES": "0",
        },
        dag_files=[*EXAMPLES.glob("*.py"), *TEST_DAGS.glob("*.py")],
    )
    try:
        yield services
    finally:
        services.stop()
        drop_postgres_database(services)
