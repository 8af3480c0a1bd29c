"""One writer per target table: two ``lightning import`` processes never both write a table.

Each test runs real ``lightning import`` processes against the real MariaDB. Where two imports must
overlap, the first is held by the ``pause-after-lease`` failpoint (it has taken the table's lease and
written nothing), so the overlap never depends on timing; the rows are compared with the source as
multisets, on a table without any key, where a doubled row could not hide behind a duplicate-key error.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_lightning.core import sample
from tests.conftest import MySQLServer
from tests.kill_scenario import LightningRun, lightning_command

SCHEMA = "src"
ROWS = 3000

# No key at all, many equal rows: only an exact multiset comparison sees a doubled batch.
NUMBERS = sample.SampleTable(
    SCHEMA,
    "numbers",
    "CREATE TABLE `numbers` (\n  `n` int(11) DEFAULT NULL,\n  `word` varchar(20) DEFAULT NULL\n) ENGINE=InnoDB",
    lambda rng, i: (rng.randint(1, 30), rng.choice(("red", "green", "blue", "o'brien", ""))),
)
KEYED = sample.SampleTable(
    SCHEMA,
    "keyed",
    "CREATE TABLE `keyed` (\n  `id` int(11) NOT NULL,\n  `word` varchar(20) DEFAULT NULL,\n"
    "  PRIMARY KEY (`id`)\n) ENGINE=InnoDB",
    lambda rng, i: (i, rng.choice(("red", "green", "blue"))),
)


def _source_rows(table: sample.SampleTable, rows: int) -> Counter:
    return Counter(sample._rows(table, rows, 1))


@dataclass
class Setup:
    server: MySQLServer
    db: str
    info: str
    tmp: Path

    def config(
        self, name: str, source: Path, *, lease: str = "30s", wait: str = "0s", parallel: bool = False, extra: str = ""
    ) -> Path:
        """A config for one import with a checkpoint file of its own (a different import each ``name``)."""
        path = self.tmp / f"{name}.toml"
        path.write_text(
            f"""[lightning]
region-concurrency = 1
task-info-schema-name = "{self.info}"
table-lease-duration = "{lease}"
table-lease-wait = "{wait}"

[tidb]
host = "{self.server.host}"
port = {self.server.port}
user = "{self.server.user}"
password = "{self.server.password}"

[mydumper]
data-source-dir = "{source}"

[tikv-importer]
logical-import-batch-size = "8KiB"
parallel-import = {str(parallel).lower()}

[checkpoint]
driver = "file"
dsn = "{self.tmp / (name + '-checkpoint.json')}"

{extra}
[[routes]]
schema-pattern = "{SCHEMA}"
target-schema = "{self.db}"
"""
        )
        return path

    def run(self, config: Path, *, failpoints: dict | None = None, name: str = "") -> LightningRun:
        env = {}
        if failpoints is not None:
            path = self.tmp / f"{config.stem}-{name}failpoints.json"
            path.write_text(json.dumps(failpoints))
            env["LIGHTNING_FAILPOINTS"] = str(path)
        return LightningRun(config, log_dir=self.tmp / f"{config.stem}-{name}logs", env=env)

    def rows(self, table: str) -> Counter:
        conn = self.server.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT * FROM `{self.db}`.`{table}`")
                return Counter(tuple(r) for r in cur.fetchall())
        finally:
            conn.close()

    def table(self, name: str) -> str:
        return f"`{self.db}`.`{name}`"


@pytest.fixture
def setup(mysql_server, make_database, tmp_path) -> Setup:
    return Setup(mysql_server, make_database("lt_lease"), make_database("lt_leaseinfo"), tmp_path)


@pytest.fixture
def source(tmp_path) -> Path:
    out = tmp_path / "dump"
    sample.write_table(out, NUMBERS, ROWS, files=3)
    return out


def _paused(setup: Setup, table: str, tag: str) -> tuple[dict, Path]:
    """A failpoint that holds an import once it has the table's lease, and the file that lets it go on."""
    until = setup.tmp / f"go-{tag}"
    return {"pause-after-lease": {"table": table, "until": str(until)}}, until


def _wait_for(path: Path, run: LightningRun, what: str, timeout: float = 60) -> None:
    """Wait until ``path`` exists (the process got there) — failing if the process ended instead."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if run.poll() is not None:
            raise AssertionError(f"the import ended before {what}:\n{run.output[-3000:]}")
        if time.monotonic() > deadline:
            run.kill()
            raise AssertionError(f"the import did not reach {what} within {timeout}s:\n{run.output[-3000:]}")
        time.sleep(0.05)


def _wait_for_text(run: LightningRun, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in run.output:
        if run.poll() is not None or time.monotonic() > deadline:
            run.kill()
            raise AssertionError(f"the import never logged {text!r}:\n{run.output[-3000:]}")
        time.sleep(0.05)


def test_a_second_import_of_a_table_another_import_holds_fails_naming_it_and_writes_nothing(setup, source):
    point, go = _paused(setup, setup.table("numbers"), "first")
    first = setup.run(setup.config("first", source), failpoints=point)
    _wait_for(go.with_name(go.name + ".paused"), first, "its lease")

    # Both passed "target tables empty": the table is still empty while the first holds it.
    second = setup.run(setup.config("second", source))
    assert second.wait(60) != 0
    message = second.output
    assert f"table {setup.table('numbers')} is being imported by import task" in message
    assert f"process {first.process.pid}" in message
    assert "first-checkpoint.json" in message  # the holder's own checkpoints: which import it is
    assert "table-lease-wait" in message and "parallel-import" in message
    assert setup.rows("numbers") == Counter()

    go.touch()
    assert first.wait(60) == 0, first.output[-3000:]
    assert setup.rows("numbers") == _source_rows(NUMBERS, ROWS)


def test_checkpoint_dump_shows_who_holds_each_table(setup, source):
    config = setup.config("first", source)
    point, go = _paused(setup, setup.table("numbers"), "first")
    first = setup.run(config, failpoints=point)
    try:
        _wait_for(go.with_name(go.name + ".paused"), first, "its lease")
        shown = subprocess.run(
            [*lightning_command(), "ctl", "checkpoint-dump", "-c", str(config)],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        go.touch()
    assert shown.returncode == 0, shown.stderr
    line = next(x for x in shown.stdout.splitlines() if x.startswith(setup.table("numbers")) and "process" in x)
    assert "(this import): lightning import, checkpoints in file" in line
    assert f"process {first.process.pid}" in line and line.endswith("held")
    assert first.wait(60) == 0, first.output[-3000:]


def test_an_import_that_waited_for_a_table_finds_the_other_imports_rows_and_refuses_to_double_them(setup, source):
    point, go = _paused(setup, setup.table("numbers"), "first")
    first = setup.run(setup.config("first", source), failpoints=point)
    _wait_for(go.with_name(go.name + ".paused"), first, "its lease")
    second = setup.run(setup.config("second", source, wait="60s"))
    _wait_for_text(second, "waiting up to 60s")  # past its precheck (an empty table), waiting for the lease

    go.touch()
    assert first.wait(60) == 0, first.output[-3000:]
    assert second.wait(60) != 0
    assert f"table {setup.table('numbers')} already holds rows" in second.output
    assert "first-checkpoint.json" in second.output  # who wrote them
    assert setup.rows("numbers") == _source_rows(NUMBERS, ROWS)


def test_the_same_import_resumed_after_a_kill_takes_its_own_lease_back_at_once(setup, source):
    config = setup.config("only", source, lease="10m", wait="0s")
    killed = setup.run(config, failpoints={"kill-after-commit": {"table": setup.table("numbers"), "batches": 3}})
    assert killed.wait(60) == -signal.SIGKILL, killed.output[-3000:]
    assert 0 < sum(setup.rows("numbers").values()) < ROWS

    # The killed run's lease lives ten more minutes; with no wait allowed, only taking it back succeeds.
    resumed = setup.run(config, name="resumed-")
    assert resumed.wait(60) == 0, resumed.output[-3000:]
    assert setup.rows("numbers") == _source_rows(NUMBERS, ROWS)


def test_a_killed_imports_lease_is_taken_over_once_it_expired(setup, tmp_path):
    source = tmp_path / "keyed"
    sample.write_table(source, KEYED, ROWS, files=3)
    killed = setup.run(
        setup.config("killed", source, lease="3s"),
        failpoints={"kill-after-commit": {"table": setup.table("keyed"), "batches": 3}},
    )
    assert killed.wait(60) == -signal.SIGKILL, killed.output[-3000:]

    # Another import (its own checkpoints), merging into the half-imported table as replace allows.
    other = setup.run(setup.config("other", source, wait="60s", extra='[conflict]\nstrategy = "replace"\n'))
    assert other.wait(90) == 0, other.output[-3000:]
    assert "taking over the lease of import task" in other.output
    assert "killed-checkpoint.json" in other.output
    assert setup.rows("keyed") == _source_rows(KEYED, ROWS)


def _split(source: Path, tmp: Path) -> tuple[Path, Path]:
    """The dump's first data file for one import, the other two for the other, the schema for both."""
    first, second = tmp / "part-a", tmp / "part-b"
    for part in (first, second):
        part.mkdir()
        shutil.copy(source / f"{SCHEMA}.numbers-schema.sql", part)
    files = sorted(source.glob(f"{SCHEMA}.numbers.*.sql"))
    shutil.copy(files[0], first)
    for file in files[1:]:
        shutil.copy(file, second)
    return first, second


def test_imports_that_all_declare_parallel_import_write_one_table_together(setup, source):
    part_a, part_b = _split(source, setup.tmp)
    point, go = _paused(setup, setup.table("numbers"), "a")
    first = setup.run(setup.config("a", part_a, parallel=True), failpoints=point)
    _wait_for(go.with_name(go.name + ".paused"), first, "its lease")

    second = setup.run(setup.config("b", part_b, parallel=True))
    assert second.wait(60) == 0, second.output[-3000:]
    go.touch()
    assert first.wait(60) == 0, first.output[-3000:]
    assert "checksum skipped: parallel-import" in first.output
    assert setup.rows("numbers") == _source_rows(NUMBERS, ROWS)  # the union of the two parts, once


def test_an_import_without_parallel_import_is_refused_a_table_parallel_imports_hold(setup, source):
    part_a, _ = _split(source, setup.tmp)
    point, go = _paused(setup, setup.table("numbers"), "a")
    first = setup.run(setup.config("a", part_a, parallel=True), failpoints=point)
    _wait_for(go.with_name(go.name + ".paused"), first, "its lease")

    lone = setup.run(setup.config("lone", source))
    assert lone.wait(60) != 0
    assert "it imports with parallel-import, and this import does not declare it" in lone.output
    go.touch()
    assert first.wait(60) == 0, first.output[-3000:]
    assert sum(setup.rows("numbers").values()) == ROWS // 3


def test_an_import_whose_lease_was_taken_from_it_commits_no_batch_after_and_resumes_later(setup, source):
    # A ten-minute lease: its heartbeat will not run before the first batch, which must find out by itself.
    config = setup.config("only", source, lease="10m")
    point, go = _paused(setup, setup.table("numbers"), "only")
    run = setup.run(config, failpoints=point)
    _wait_for(go.with_name(go.name + ".paused"), run, "its lease")
    conn = setup.server.connect()
    with conn.cursor() as cur:
        cur.execute(f"DELETE FROM `{setup.info}`.table_leases_v1")  # what another import's takeover does
    conn.close()

    go.touch()
    assert run.wait(60) != 0
    assert "lost its lease on the table while writing" in run.output
    assert setup.rows("numbers") == Counter()  # not one batch after the lease was gone

    resumed = setup.run(config, name="resumed-")  # nothing to ignore first: the table was not marked failed
    assert resumed.wait(60) == 0, resumed.output[-3000:]
    assert setup.rows("numbers") == _source_rows(NUMBERS, ROWS)
