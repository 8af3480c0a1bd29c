"""Airflow for the tests: a metadata DB (SQLite), a dags folder with the example DAGs, connections."""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
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


SHOP_TABLES = ("customers", "events", "orders")  # write_shop_dump's tables


def shop_counts(server, db: str) -> dict[str, int]:
    """``COUNT(*)`` of each shop table in ``db``."""
    conn = server.connect(db)
    try:
        with conn.cursor() as cur:
            counts = {}
            for table in SHOP_TABLES:
                cur.execute(f"SELECT COUNT(*) FROM `{table}`")
                counts[table] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


def upload_headed_csv_dump(s3_server, local: Path, *, rows: int, database: str, prefix: str) -> str:
    """The shop dump as CSV files with a header line (as the S3 example reads them) in a new bucket."""
    from airflow_provider_lightning.core.sample import write_shop_dump

    write_shop_dump(local, rows=rows, database=database, fmt="csv")
    headers = {
        "customers": "id,name,email,balance,created_at,note",
        "orders": "id,customer_id,total,status,placed_at",
        "events": "ts,kind,payload",
    }
    for f in local.glob("*.csv"):
        f.write_bytes(headers[f.name.split(".")[1]].encode() + b"\n" + f.read_bytes())
    bucket = s3_server.make_bucket()
    s3_server.upload_dir(local, bucket, prefix)
    return bucket


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


@dataclass(frozen=True)
class DailyDumps:
    """What the services' scheduler imports on its own: the daily example DAG's dump for yesterday,
    today and tomorrow (UTC; whichever day its first scheduled run is for), all of database ``db``."""

    root: Path
    db: str


@pytest.fixture(scope="session")
def daily_dumps(tmp_path_factory, mysql_server) -> Iterator[DailyDumps]:
    from airflow_provider_lightning.core.sample import write_shop_dump

    dumps = DailyDumps(tmp_path_factory.mktemp("daily-dumps"), f"lt_daily_{uuid.uuid4().hex[:10]}")
    today = datetime.now(timezone.utc).date()
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        write_shop_dump(dumps.root / day.isoformat(), rows=60, database=dumps.db)
    yield dumps
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{dumps.db}`")
    conn.close()


@dataclass(frozen=True)
class SecretTarget:
    """A MariaDB user of its own with a password found nowhere else, as the connection ``conn_id``: what
    a test looks for in logs, XComs and rendered fields."""

    conn_id: str
    user: str
    password: str


@pytest.fixture(scope="session")
def secret_target(mysql_server) -> Iterator[SecretTarget]:
    target = SecretTarget("lightning_secret_target", f"lt_sec_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}")
    conn = mysql_server.connect()
    try:
        with conn.cursor() as cur:
            for host in ("127.0.0.1", "localhost"):
                cur.execute(f"CREATE USER '{target.user}'@'{host}' IDENTIFIED BY %s", (target.password,))
                cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{target.user}'@'{host}'")
        yield target
    finally:
        with conn.cursor() as cur:
            for host in ("127.0.0.1", "localhost"):
                cur.execute(f"DROP USER IF EXISTS '{target.user}'@'{host}'")
        conn.close()


@pytest.fixture(scope="session")
def airflow_services(tmp_path_factory, mysql_server, s3_server, daily_dumps, secret_target):
    """api-server + scheduler + dag-processor (LocalExecutor) on a PostgreSQL metadata DB, for the session,
    with every example DAG: ``lightning_s3_csv`` reads the moto S3 server, ``lightning_mydumper_daily``
    (unpaused, so the scheduler runs it at once) imports ``daily_dumps``."""
    from tests.airflow.services import drop_postgres_database, start_airflow_services

    target = f"mysql://{mysql_server.user}:{mysql_server.password}@{mysql_server.host}:{mysql_server.port}"
    services = start_airflow_services(
        tmp_path_factory.mktemp("airflow-services"),
        extra_env={
            "AIRFLOW_CONN_LIGHTNING_TARGET": target,
            f"AIRFLOW_CONN_{secret_target.conn_id.upper()}": (
                f"mysql://{secret_target.user}:{secret_target.password}@{mysql_server.host}:{mysql_server.port}"
            ),
            "AIRFLOW_CONN_LIGHTNING_S3": s3_server.airflow_connection(),
            "LIGHTNING_DUMP_ROOT": str(daily_dumps.root),
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
