"""Fixtures shared by the whole suite: the real MariaDB, fresh databases, real dumps made by mydumper."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pymysql
import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Airflow reads AIRFLOW_HOME at import: point it at a throw-away folder before any test imports airflow,
    # so the suite never touches the user's ~/airflow.
    if "AIRFLOW_HOME" not in os.environ:
        os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="lightning-tests-airflow-")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # The DAGs dag.test() runs must live in the dags folder: tests/airflow/conftest.py copies the example
    # DAGs and the test DAGs there.
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(Path(os.environ["AIRFLOW_HOME"]) / "dags"))


@dataclass(frozen=True)
class MySQLServer:
    """How the tests reach the target server (``LIGHTNING_TEST_MYSQL_URL``, set by ./scripts/test)."""

    host: str
    port: int
    user: str
    password: str

    @property
    def url(self) -> str:
        return f"mysql://{self.user}:{self.password}@{self.host}:{self.port}"

    def connect(self, database: str | None = None, **kwargs) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            autocommit=True,
            **kwargs,
        )


@pytest.fixture(scope="session")
def mysql_server() -> MySQLServer:
    url = os.environ.get("LIGHTNING_TEST_MYSQL_URL", "mysql://lightning:lightning@127.0.0.1:3306")
    parts = urlsplit(url)
    server = MySQLServer(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
    )
    try:
        server.connect().close()
    except pymysql.err.OperationalError as exc:
        pytest.fail(f"the test MariaDB at {url} does not answer ({exc}); run the suite with ./scripts/test")
    return server


def _drop_database(server: MySQLServer, name: str) -> None:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


@pytest.fixture
def fresh_database(mysql_server: MySQLServer) -> Iterator[str]:
    """The name of a new, empty database on the test server, dropped afterwards."""
    name = f"lt_{uuid.uuid4().hex[:12]}"
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` DEFAULT CHARACTER SET utf8mb4")
    conn.close()
    try:
        yield name
    finally:
        _drop_database(mysql_server, name)


@pytest.fixture
def make_database(mysql_server: MySQLServer) -> Iterator:
    """A factory for databases with unique names (for tests that need several); all dropped afterwards."""
    made: list[str] = []

    def make(prefix: str = "lt") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        conn = mysql_server.connect()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` DEFAULT CHARACTER SET utf8mb4")
        conn.close()
        made.append(name)
        return name

    yield make
    for name in made:
        _drop_database(mysql_server, name)


def run_mydumper(server: MySQLServer, database: str, outdir: Path, *extra: str) -> Path:
    """Dump ``database`` with Debian's mydumper into ``outdir`` (which it creates)."""
    if shutil.which("mydumper") is None:
        pytest.fail("mydumper is not installed; run the suite with ./scripts/test, which installs it")
    subprocess.run(
        [
            "mydumper",
            "-h", server.host,
            "-P", str(server.port),
            "-u", server.user,
            "-p", server.password,
            "-B", database,
            "-o", str(outdir),
            *extra,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return outdir


@dataclass(frozen=True)
class S3Server:
    """A local S3-compatible server (moto in server mode) on 127.0.0.1."""

    endpoint_url: str
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def airflow_connection(self) -> str:
        """This server as an Airflow connection of type aws (the JSON form of ``AIRFLOW_CONN_...``)."""
        import json

        return json.dumps({
            "conn_type": "aws",
            "login": self.access_key,
            "password": self.secret_key,
            "extra": {"endpoint_url": self.endpoint_url, "region_name": self.region},
        })

    def make_bucket(self) -> str:
        name = f"lt-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def upload_dir(self, local: Path, bucket: str, prefix: str) -> None:
        client = self.client()
        for path in sorted(local.rglob("*")):
            if path.is_file():
                key = f"{prefix}/{path.relative_to(local).as_posix()}" if prefix else path.relative_to(local).as_posix()
                client.upload_file(str(path), bucket, key)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    import sys
    import time
    import urllib.request

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the moto S3 server did not start")
            time.sleep(0.2)
    try:
        yield S3Server(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
