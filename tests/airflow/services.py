"""The real Airflow services for end-to-end tests: api-server, scheduler, dag-processor, LocalExecutor,
on a PostgreSQL metadata DB of their own.

Tasks run in real task processes under the task SDK supervisor (where Airflow forbids ORM access), talk
to the execution API, and keep their checkpoints in the Task State Store in PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2

from airflow_provider_lightning.core.airflow_api.client import AirflowApiClient

API_USER = "admin"
API_PASSWORD = "lightning-e2e"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AirflowServices:
    home: Path
    port: int
    env: dict[str, str]
    database: str
    postgres_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dags_folder(self) -> Path:
        return self.home / "dags"

    @property
    def failpoints_file(self) -> Path:
        return self.home / "failpoints.json"

    def client(self) -> AirflowApiClient:
        return AirflowApiClient(self.base_url, username=API_USER, password=API_PASSWORD)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.home / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def wait_for_dag(self, client: AirflowApiClient, dag_id: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = client.request("GET", f"/dags/{dag_id}", expect=(200, 404))
            if resp.status_code == 200:
                return
            time.sleep(1)
        raise TimeoutError(f"the dag-processor did not parse {dag_id}:\n{self.log_tail('dag-processor')}")

    def wait_for_run(self, client: AirflowApiClient, dag_id: str, run_id: str, states: tuple[str, ...],
                     timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = client.get_dag_run(dag_id, run_id)
            if run["state"] in states:
                return run
            time.sleep(1)
        raise TimeoutError(
            f"run {run_id} did not reach {states}; tasks: "
            f"{[(t['task_id'], t['map_index'], t['state']) for t in client.task_instances(dag_id, run_id)]}\n"
            f"{self.log_tail('scheduler')}"
        )

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def start_airflow_services(root: Path, *, extra_env: dict[str, str], dag_files: list[Path]) -> AirflowServices:
    postgres = os.environ.get("LIGHTNING_TEST_POSTGRES_URL", "postgresql://lightning:lightning@127.0.0.1:5432/postgres")
    database = f"lt_airflow_{uuid.uuid4().hex[:10]}"
    _create_postgres_database(postgres, database)
    parts = urlsplit(postgres)
    sql_conn = f"postgresql+psycopg2://{parts.username}:{parts.password}@{parts.hostname}:{parts.port or 5432}/{database}"
    home = root
    (home / "dags").mkdir(parents=True, exist_ok=True)
    for f in dag_files:
        shutil.copy(f, home / "dags" / f.name)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({API_USER: API_PASSWORD}))
    port = _free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "6",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_conn,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{API_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "LIGHTNING_FAILPOINTS": str(home / "failpoints.json"),
        # The REST API for the maintenance DAG and clean_checkpoints (type http: host, login, password).
        "AIRFLOW_CONN_AIRFLOW_API": json.dumps(
            {"conn_type": "http", "host": f"http://127.0.0.1:{port}", "login": API_USER, "password": API_PASSWORD}
        ),
        **extra_env,
    }
    (home / "failpoints.json").write_text("{}")
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    if migrate.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-3000:]}")
    services = AirflowServices(home, port, env, database, postgres)
    airflow = str(Path(sys.executable).with_name("airflow"))
    commands = {
        "api-server": [airflow, "api-server", "--workers", "1", "--port", str(port), "--host", "127.0.0.1"],
        "scheduler": [airflow, "scheduler"],
        "dag-processor": [airflow, "dag-processor"],
    }
    for name, command in commands.items():
        log = open(home / f"{name}.log", "wb")  # noqa: SIM115 - closed when the process ends
        services.processes[name] = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 120
    client = AirflowApiClient(services.base_url, username=API_USER, password=API_PASSWORD)
    try:
        while True:
            try:
                client.request("GET", "/monitor/health")
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline or services.processes["api-server"].poll() is not None:
                    services.stop()
                    raise RuntimeError(f"the api-server did not start:\n{services.log_tail('api-server')}") from None
                time.sleep(0.5)
    finally:
        client.close()
    return services


def drop_postgres_database(services: AirflowServices) -> None:
    conn = psycopg2.connect(services.postgres_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{services.database}" WITH (FORCE)')
    conn.close()


def _create_postgres_database(url: str, name: str) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
