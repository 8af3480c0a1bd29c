"""A backend that lives in the tests plugs in with one registration, and runs the whole engine lifecycle.

``RocksBackend`` (tests/core/backends/rocks.py) keeps each engine in a rocksdict store on
``sorted-kv-dir`` and imports it with plain INSERTs, as the physical backend will keep and ingest its
sorted KV pairs. Registered for ``tikv-importer.backend = "local"`` with ``register_backend``; nothing in
the steps names it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_lightning.core.backend.registry import register_backend
from airflow_provider_lightning.core.checkpoints.file_store import FileCheckpointStore
from airflow_provider_lightning.core.checkpoints.model import CheckpointStatus, is_error_status
from airflow_provider_lightning.core.checkpoints.store import MemoryCheckpointStore
from airflow_provider_lightning.core.config import BackendKind
from airflow_provider_lightning.core.config import load_config
from airflow_provider_lightning.core.importer.steps import run_import
from tests.core.backends.rocks import KILL_BEFORE_IMPORT, RocksBackend

SOURCE_DB = "seam"
ITEMS = [(i, f"item-{i}", f"{i * 1.25:.2f}") for i in range(1, 41)]
NOTES = [(i, f"note {i}, with a comma" if i % 3 else "") for i in range(1, 26)]


def _write_dump(root: Path) -> Path:
    """Two SQL files for ``items`` (two engines: batch-size is tiny) and a CSV file with a header for ``notes``."""
    root.mkdir(parents=True)
    (root / f"{SOURCE_DB}-schema-create.sql").write_text(f"CREATE DATABASE `{SOURCE_DB}`;\n")
    (root / f"{SOURCE_DB}.items-schema.sql").write_text(
        "CREATE TABLE `items` (id INT PRIMARY KEY, name VARCHAR(32), price DECIMAL(10,2));\n"
    )
    (root / f"{SOURCE_DB}.notes-schema.sql").write_text("CREATE TABLE `notes` (id INT, body VARCHAR(64));\n")
    for part, rows in ((1, ITEMS[:20]), (2, ITEMS[20:])):
        values = ",\n".join(f"({i},'{name}',{price})" for i, name, price in rows)
        (root / f"{SOURCE_DB}.items.00000000{part}.sql").write_text(f"INSERT INTO `items` VALUES\n{values};\n")
    csv = "id,body\n" + "".join(f'{i},"{body}"\n' for i, body in NOTES)
    (root / f"{SOURCE_DB}.notes.000000001.csv").write_text(csv)
    return root


def _config_data(dump: Path, kv_dir: Path, target_db: str, server) -> dict:
    return {
        "mydumper": {"data-source-dir": str(dump), "batch-size": 1},
        "tidb": {"host": server.host, "port": server.port, "user": server.user, "password": server.password},
        "routes": [{"schema-pattern": SOURCE_DB, "target-schema": target_db}],
        "lightning": {"region-concurrency": 2, "table-concurrency": 1},
        "tikv-importer": {"backend": "local", "sorted-kv-dir": str(kv_dir)},
    }


class RecordingStore(MemoryCheckpointStore):
    """Remembers every engine status written, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.engine_statuses: list[tuple[str, int, int]] = []

    def update_status(self, name: str, status: int, *, engine_id: int | None = None) -> None:
        if engine_id is not None:
            self.engine_statuses.append((name, engine_id, int(status)))
        super().update_status(name, status, engine_id=engine_id)


@pytest.fixture
def rocks_backend() -> Iterator[None]:
    unregister = register_backend(BackendKind.LOCAL, RocksBackend.factory)
    yield
    unregister()


def _journal(kv_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (kv_dir / "journal.jsonl").read_text().splitlines()]


def _target_rows(server, db: str) -> tuple[list, list]:
    conn = server.connect(charset="utf8mb4")
    with conn.cursor() as cur:
        cur.execute(f"SELECT id, name, CAST(price AS CHAR) FROM `{db}`.`items` ORDER BY id")
        items = [tuple(r) for r in cur.fetchall()]
        cur.execute(f"SELECT id, body FROM `{db}`.`notes` ORDER BY id")
        notes = [tuple(r) for r in cur.fetchall()]
    conn.close()
    return items, notes


def test_an_import_through_a_registered_backend_arrives_with_equal_checksums(
    rocks_backend, mysql_server, fresh_database, tmp_path
):
    dump = _write_dump(tmp_path / "dump")
    kv_dir = tmp_path / "kv"
    store = RecordingStore()
    summary = run_import(load_config(data=_config_data(dump, kv_dir, fresh_database, mysql_server)), store)

    assert _target_rows(mysql_server, fresh_database) == (ITEMS, NOTES)
    assert {p.table: p.checksum for p in summary.post} == {
        f"`{fresh_database}`.`items`": "ok",
        f"`{fresh_database}`.`notes`": "ok",
    }
    # Each engine advanced Closed -> Imported in the checkpoint store, in that order.
    items = f"`{fresh_database}`.`items`"
    assert [(e, s) for t, e, s in store.engine_statuses if t == items] == [
        (0, CheckpointStatus.CLOSED), (1, CheckpointStatus.CLOSED),
        (0, CheckpointStatus.IMPORTED), (1, CheckpointStatus.IMPORTED),
    ]


def test_a_registered_backend_runs_every_engine_through_its_lifecycle_between_its_hooks(
    rocks_backend, mysql_server, fresh_database, tmp_path
):
    dump = _write_dump(tmp_path / "dump")
    kv_dir = tmp_path / "kv"
    run_import(load_config(data=_config_data(dump, kv_dir, fresh_database, mysql_server)), MemoryCheckpointStore())

    journal = _journal(kv_dir)
    for table in ("items", "notes"):
        events = [e["event"] for e in journal if e.get("table") == table]
        assert events == ["before_import", "after_import"]
    engines = {e["engine"] for e in journal if e["event"] == "open_engine"}
    assert len(engines) == 3  # items: two files, two engines; notes: one
    for engine in engines:
        lifecycle = [e["event"] for e in journal if e.get("engine") == engine and e["event"] != "write_batch"]
        assert lifecycle == ["open_engine", "flush_engine", "close_engine", "import_engine", "cleanup_engine"]
    first, last = journal[0]["event"], journal[-1]["event"]
    assert (first, last) == ("before_import", "after_import")
    assert not any(kv_dir.glob("engine-*")), "cleanup_engine removes the engines"


def test_a_kill_after_close_engine_resumes_by_importing_the_closed_engines_without_reading_them_again(
    rocks_backend, mysql_server, fresh_database, tmp_path
):
    dump = _write_dump(tmp_path / "dump")
    kv_dir = tmp_path / "kv"
    data = _config_data(dump, kv_dir, fresh_database, mysql_server)
    checkpoint_file = tmp_path / "checkpoint.json"
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(data))
    script = (
        "import json, sys\n"
        "from airflow_provider_lightning.core.backend.registry import register_backend\n"
        "from airflow_provider_lightning.core.checkpoints.file_store import FileCheckpointStore\n"
        "from airflow_provider_lightning.core.config import BackendKind, load_config\n"
        "from airflow_provider_lightning.core.importer.steps import run_import\n"
        "from tests.core.backends.rocks import RocksBackend\n"
        "register_backend(BackendKind.LOCAL, RocksBackend.factory)\n"
        "run_import(load_config(data=json.load(open(sys.argv[1]))), FileCheckpointStore(sys.argv[2]))\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", script, str(config_file), str(checkpoint_file)],
        env={**os.environ, KILL_BEFORE_IMPORT: "1"},
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]

    items = f"`{fresh_database}`.`items`"
    stored = FileCheckpointStore(checkpoint_file).get_table(items)
    assert [e.status for e in stored.engines] == [CheckpointStatus.CLOSED, CheckpointStatus.CLOSED]
    assert not is_error_status(stored.status)
    assert all(c.finished for c in stored.chunks)
    assert _target_rows(mysql_server, fresh_database)[0] == []

    summary = run_import(load_config(data=data), FileCheckpointStore(checkpoint_file))

    journal = _journal(kv_dir)
    killed_pid = journal[0]["pid"]
    resumed = [e for e in journal if e["pid"] == os.getpid()]
    closed_engines = {e["engine"] for e in journal if e["event"] == "close_engine" and e["pid"] == killed_pid}
    assert len(closed_engines) == 2
    for engine in closed_engines:
        again = [e["event"] for e in resumed if e.get("engine") == engine]
        assert again == ["import_engine", "cleanup_engine"], "a Closed engine is imported, not written again"
    assert _target_rows(mysql_server, fresh_database) == (ITEMS, NOTES)
    assert {p.checksum for p in summary.post} == {"ok"}

