"""A crashed import resumes to exactly the source rows: none lost, none doubled.

The promise (docs/exactness.md): a process may die at any instant — also between committing a batch
and saving its checkpoint — and a resumed import still ends with exactly the source's rows, for tables
without any key too, with the file and the mysql checkpoint store. What makes it hold is the progress
marker each batch's transaction commits with its rows; these tests kill real ``lightning`` processes
(SIGKILL, nothing cleaned up) and restart a real MariaDB under an import, then compare every table with
an uninterrupted import of the same dump.

Run time: about 2 minutes on 2 cores, nearly all of it the 20 random kills.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import MySQLServer
from tests.kill_scenario import (
    CrashDump,
    KillPoint,
    LightningRun,
    TargetProbe,
    checkpoint_rows_reader,
    lightning_command,
    multiset_difference,
    plan_kills,
    run_trial,
    summary_checksums,
    verify_import,
    wait_for_moment,
    write_config,
    write_crash_dump,
)
from tests.private_mariadb import PrivateMariaDB, require_mariadb_binaries, running_private_mariadb

KILL_SEED = 20261125
KILLS = 20


@pytest.fixture(scope="module")
def crash_dump(tmp_path_factory: pytest.TempPathFactory) -> CrashDump:
    return write_crash_dump(tmp_path_factory.mktemp("crash") / "dump")


def _drop(server: MySQLServer, *names: str) -> None:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            for name in names:
                if name:
                    cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def _import_uninterrupted(server: MySQLServer, dump: CrashDump, workdir: Path, target: str, info: str) -> None:
    config = write_config(
        workdir / "reference.toml", dump=dump, server=server, target_db=target, info_schema=info,
        checkpoint_file=workdir / "reference-cp.json",
    )
    run = LightningRun(config, log_dir=workdir / "reference-logs")
    assert run.wait(120) == 0, run.output[-3000:]


@pytest.fixture(scope="module")
def reference_db(mysql_server: MySQLServer, crash_dump: CrashDump, tmp_path_factory) -> str:
    """The dump imported once, without interruption: what every crashed-and-resumed import must equal."""
    name, info = f"lt_ref_{uuid.uuid4().hex[:10]}", f"lt_refinfo_{uuid.uuid4().hex[:8]}"
    try:
        _import_uninterrupted(mysql_server, crash_dump, tmp_path_factory.mktemp("reference"), name, info)
        yield name
    finally:
        _drop(mysql_server, name, info)


class Target:
    """A target database with its own task-info schema (markers) and, for the mysql driver, its own
    checkpoint schema, all with unique names and dropped afterwards."""

    def __init__(self, server: MySQLServer, make_database, workdir: Path, *, checkpoint: str, markers: bool = True):
        self.server = server
        self.db = make_database("lt_crash")
        self.info = make_database("lt_crashinfo") if markers else ""
        self.checkpoint = checkpoint
        self.checkpoint_schema = make_database("lt_crashcp") if checkpoint == "mysql" else ""
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)

    def config(self, dump: CrashDump, *, name: str = "tidb-lightning.toml", **kwargs) -> Path:
        return write_config(
            self.workdir / name, dump=dump, server=self.server, target_db=self.db, info_schema=self.info,
            checkpoint=self.checkpoint, checkpoint_file=self.workdir / "checkpoint.json",
            checkpoint_schema=self.checkpoint_schema, **kwargs,
        )

    def probe(self, dump: CrashDump) -> TargetProbe:
        return TargetProbe(self.server, self.db, self.info, dump)

    def table(self, name: str) -> str:
        return f"`{self.db}`.`{name}`"


# --- 1. random kills of the lightning command -------------------------------------------------------------


@pytest.mark.slow
def test_twenty_random_kills_each_resume_to_exactly_the_source_rows(
    mysql_server, make_database, crash_dump, reference_db, tmp_path, record_property
):
    """20 imports of the crash dump, each SIGKILLed at a moment a seeded RNG picked (most while tables are
    partly imported, some at start-up or during the final checksum; some resumed runs killed again),
    alternately with the file and the mysql checkpoint store; each resumed until it completes, then
    compared table by table with the uninterrupted reference import."""
    plans = plan_kills(KILL_SEED, KILLS)
    kills = []
    failures = []
    started = time.monotonic()
    for plan in plans:
        target = Target(mysql_server, make_database, tmp_path / f"trial-{plan.index}", checkpoint=plan.checkpoint)
        config = target.config(crash_dump)
        probe = target.probe(crash_dump)
        try:
            result = run_trial(
                plan,
                start=lambda config=config, logs=target.workdir / "logs": LightningRun(config, log_dir=logs),
                probe=probe,
                checkpoint_rows=checkpoint_rows_reader(config),
            )
        finally:
            probe.close()
        kills.extend(result.kills)
        problems = verify_import(mysql_server, target.db, reference_db, crash_dump)
        checksums = summary_checksums(result.final_output, target.db)
        if sorted(checksums) != crash_dump.tables or not set(checksums.values()) <= {"ok", "done earlier"}:
            problems.append(f"the summary's checksums: {checksums}")
        if problems:
            failures.append(f"trial {plan.index} ({plan}): {problems}")
        _drop(mysql_server, target.db, target.info, target.checkpoint_schema)
    seconds = time.monotonic() - started

    landed = [k for k in kills if k.landed]
    partly = [k for k in landed if k.partial_tables]
    lagging = [k for k in landed if k.checkpoint_lag_rows]
    record_property("kills_landed", len(landed))
    record_property("kills_with_a_partly_imported_table", len(partly))
    record_property("kills_with_the_checkpoint_behind_the_target", len(lagging))
    record_property("rows_committed_but_not_checkpointed", sum(k.checkpoint_lag_rows or 0 for k in landed))
    record_property("seconds", round(seconds, 1))
    print(
        f"\n{len(plans)} trials, {len(landed)} kills landed ({len(partly)} with a table partly imported, "
        f"{len(lagging)} with the checkpoint store behind the committed rows by "
        f"{sum(k.checkpoint_lag_rows or 0 for k in landed)} rows in all), {seconds:.0f}s"
    )
    assert failures == [], "\n".join(failures)
    assert len(landed) >= KILLS
    assert len(partly) >= 15
    # The case the markers exist for happened, and often: rows committed that the store had not heard of.
    assert len(lagging) >= 10


def test_two_processes_resuming_the_same_import_at_once_write_each_row_once(
    mysql_server, make_database, crash_dump, reference_db, tmp_path
):
    """A worker thought dead still runs when its retry starts (Airflow's zombie tasks): both resume the
    same chunks from the same checkpoint. Every batch transaction locks its chunk's marker first, so of
    two attempts at a batch one writes it and the other finds it done (or stops); no row is written
    twice, and whatever the two processes end with, the table ends equal to the source."""
    target = Target(mysql_server, make_database, tmp_path / "work", checkpoint="file")
    tables = ["orders", "tally"]
    config = target.config(crash_dump, tables=tables)
    first = LightningRun(config, log_dir=tmp_path / "logs")
    probe = target.probe(crash_dump)
    assert wait_for_moment(KillPoint("rows", fraction=0.2), first, probe, 0, 120)
    first.kill()
    probe.close()

    runs = [LightningRun(config, log_dir=tmp_path / "logs") for _ in range(2)]
    codes = [run.wait(180) for run in runs]
    for run, code in zip(runs, codes):
        assert code in (0, 1) and "Traceback" not in run.output, run.output[-3000:]
    both = "".join(run.stderr for run in runs)
    assert "not sending it again" in both or "another process" in both
    if 0 not in codes:
        _resume_until_done(config, tmp_path / "logs")
    assert verify_import(mysql_server, target.db, reference_db, crash_dump, tables) == []


# --- 2. the instant between COMMIT and the checkpoint save -------------------------------------------------


def _kill_after_commit(tmp_path: Path, target: Target, config: Path, table: str, batches: int) -> Path:
    """Run the import with the kill-after-commit failpoint armed; return the failpoint file (now empty)."""
    failpoints = tmp_path / "failpoints.json"
    failpoints.write_text(json.dumps({"kill-after-commit": {"table": target.table(table), "batches": batches}}))
    run = LightningRun(config, log_dir=tmp_path / "logs", env={"LIGHTNING_FAILPOINTS": str(failpoints)})
    assert run.wait(120) == -signal.SIGKILL, f"the failpoint did not fire:\n{run.output[-3000:]}"
    assert json.loads(failpoints.read_text()) == {}
    return failpoints


@pytest.mark.parametrize("driver", ["file", "mysql"])
def test_a_kill_right_after_a_commit_doubles_no_row_of_a_table_without_a_key(
    driver, mysql_server, make_database, crash_dump, reference_db, tmp_path
):
    target = Target(mysql_server, make_database, tmp_path / "work", checkpoint=driver)
    config = target.config(crash_dump, region_concurrency=1, tables=["tally"])
    failpoints = _kill_after_commit(tmp_path, target, config, "tally", batches=5)

    # The fifth batch is committed, with its marker, and the checkpoint store has not heard of it.
    committed = target.probe(crash_dump).marker_rows()[target.table("tally")]
    saved = checkpoint_rows_reader(config)().get(target.table("tally"), 0)
    assert committed > saved
    assert target.probe(crash_dump).table_counts()["tally"] == committed

    resumed = LightningRun(config, log_dir=tmp_path / "logs", env={"LIGHTNING_FAILPOINTS": str(failpoints)})
    assert resumed.wait(120) == 0, resumed.output[-3000:]
    # The log says where the table resumes, and that the target's markers were ahead of the checkpoint.
    assert f"table {target.table('tally')}: resuming: " in resumed.stderr
    ahead = f"the target's progress markers were {committed - saved:,} rows ahead of the saved checkpoint"
    assert f"{committed:,} rows already imported ({ahead})" in resumed.stderr
    total = crash_dump.rows["tally"]
    assert (
        f"table {target.table('tally')}: {total - committed:,} rows imported by this run" in resumed.stderr
        and f"resuming; {total:,} rows in all from this import" in resumed.stderr
    )
    assert verify_import(mysql_server, target.db, reference_db, crash_dump, ["tally"]) == []
    assert summary_checksums(resumed.stdout, target.db) == {"tally": "ok"}


def test_a_batch_whose_commit_reply_was_lost_is_not_sent_again(
    mysql_server, make_database, crash_dump, reference_db, tmp_path
):
    """The COMMIT went through but its reply never came: the writer retries on a new connection, finds
    the chunk's marker already at the batch's end, and moves on without sending the batch again."""
    target = Target(mysql_server, make_database, tmp_path / "work", checkpoint="file")
    config = target.config(crash_dump, region_concurrency=1, tables=["tally"])
    failpoints = tmp_path / "failpoints.json"
    failpoints.write_text(json.dumps({"lose-commit-reply": {"table": target.table("tally"), "batches": 2}}))

    run = LightningRun(config, log_dir=tmp_path / "logs", env={"LIGHTNING_FAILPOINTS": str(failpoints)})
    assert run.wait(120) == 0, run.output[-3000:]
    assert json.loads(failpoints.read_text()) == {}
    assert "was committed before the connection broke; not sending it again" in run.stderr
    assert verify_import(mysql_server, target.db, reference_db, crash_dump, ["tally"]) == []
    assert summary_checksums(run.stdout, target.db) == {"tally": "ok"}


def test_without_markers_a_lost_commit_reply_doubles_the_batch(
    mysql_server, make_database, crash_dump, reference_db, tmp_path
):
    """The same lost reply without markers: the writer cannot tell, sends the batch again, and the
    checksum catches the doubled rows — the difference the marker check makes."""
    target = Target(mysql_server, make_database, tmp_path / "work", checkpoint="file", markers=False)
    config = target.config(crash_dump, region_concurrency=1, tables=["tally"])
    failpoints = tmp_path / "failpoints.json"
    failpoints.write_text(json.dumps({"lose-commit-reply": {"table": target.table("tally"), "batches": 2}}))

    run = LightningRun(config, log_dir=tmp_path / "logs", env={"LIGHTNING_FAILPOINTS": str(failpoints)})
    assert run.wait(120) == 1
    assert "retrying a batch after Lost connection to server during query" in run.stderr
    assert "checksum mismatch for table" in run.stderr
    extra = target.probe(crash_dump).table_counts()["tally"] - crash_dump.rows["tally"]
    assert 0 < extra < crash_dump.rows["tally"] // 3  # one batch of the first file, again
    with mysql_server.connect().cursor() as cur:
        differences = multiset_difference(cur, target.db, reference_db, "tally", crash_dump.columns["tally"], 10**6)
    assert differences and all(here > there for *_, here, there in differences)
    assert sum(here - there for *_, here, there in differences) == extra


def test_without_markers_the_same_kill_doubles_the_batch_and_the_checksum_says_so(
    mysql_server, make_database, crash_dump, reference_db, tmp_path
):
    """``task-info-schema-name = ""`` gives up the markers: the batch committed just before the kill is
    not in the checkpoint, so the resume sends it again — the failure the markers exist to prevent, and
    proof that these tests see a doubled batch when there is one."""
    target = Target(mysql_server, make_database, tmp_path / "work", checkpoint="file", markers=False)
    config = target.config(crash_dump, region_concurrency=1, tables=["tally"])
    failpoints = _kill_after_commit(tmp_path, target, config, "tally", batches=5)
    in_target = target.probe(crash_dump).table_counts()["tally"]
    saved = checkpoint_rows_reader(config)()[target.table("tally")]
    assert in_target > saved  # one batch committed but not checkpointed

    resumed = LightningRun(config, log_dir=tmp_path / "logs", env={"LIGHTNING_FAILPOINTS": str(failpoints)})
    assert resumed.wait(120) == 1
    assert "checksum mismatch for table" in resumed.stderr
    assert "Traceback" not in resumed.output
    count = target.probe(crash_dump).table_counts()["tally"]
    assert count - crash_dump.rows["tally"] == in_target - saved
    problems = verify_import(mysql_server, target.db, reference_db, crash_dump, ["tally"])
    assert problems and all("in the reference" in p or "rows" in p or "CHECKSUM" in p for p in problems)


# --- 3. the target server restarted in the middle of an import --------------------------------------------


@pytest.fixture(scope="module")
def restartable(tmp_path_factory, crash_dump: CrashDump):
    """A private MariaDB that tests may kill and restart, holding a reference import of the crash dump
    (database ``reference``)."""
    require_mariadb_binaries()
    with running_private_mariadb(tmp_path_factory.mktemp("restartable")) as server:
        _import_uninterrupted(server.server, crash_dump, tmp_path_factory.mktemp("private-ref"), "reference", "refinfo")
        yield server


def _database_maker(server: PrivateMariaDB):
    def make(prefix: str = "lt") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        conn = server.connect()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        conn.close()
        return name

    return make


def _resume_until_done(config: Path, log_dir: Path) -> list[str]:
    """Run the import again until it completes; return what each run printed.

    A table that failed on the lost connection is in an error state in the file store (the import marks
    every failed table), and the run refuses it until ``lightning ctl checkpoint-error-ignore``: that is
    run when, and only when, the refusal asks for it.
    """
    outputs = []
    for _ in range(3):
        run = LightningRun(config, log_dir=log_dir)
        code = run.wait(180)
        outputs.append(run.output)
        if code == 0:
            return outputs
        assert code == 1 and "Traceback" not in run.output, run.output[-3000:]
        assert "checkpoint-error-ignore" in run.stderr, run.output[-3000:]
        ctl = subprocess.run(
            [*lightning_command(), "ctl", "checkpoint-error-ignore", "all", "-c", str(config)],
            check=False, capture_output=True, text=True, timeout=60,
        )
        assert ctl.returncode == 0, ctl.stdout + ctl.stderr
    raise AssertionError("the import did not complete in 3 resumes:\n" + outputs[-1][-3000:])


@pytest.mark.parametrize("driver", ["file", "mysql"])
def test_a_restart_of_the_target_mid_import_neither_loses_nor_doubles_a_row(
    driver, restartable: PrivateMariaDB, crash_dump, tmp_path
):
    """mariadbd is SIGKILLed while every table is being written (committed batches survive in InnoDB,
    open ones roll back) and is back a second later. The writers retry on new connections — each
    retried batch first reads its chunk's marker, so one whose COMMIT landed is not sent again — and the
    import completes. With the mysql checkpoint store, which lives on the restarting server too, a step
    outside the writers (a table's start or end) may hit the outage instead: the import must then stop
    cleanly and complete on resume."""
    server = restartable.server
    target = Target(server, _database_maker(restartable), tmp_path / "work", checkpoint=driver)
    config = target.config(crash_dump, table_concurrency=len(crash_dump.rows))
    probe = target.probe(crash_dump)
    run = LightningRun(config, log_dir=tmp_path / "logs")
    assert wait_for_moment(KillPoint("rows", fraction=0.4), run, probe, 0, 120), run.output[-3000:]
    probe.close()
    restartable.restart(hard=True, down_for=1.0)

    code = run.wait(180)
    assert "retrying a batch after" in run.stderr
    assert "Traceback" not in run.output
    if driver == "file":
        assert code == 0, run.output[-3000:]
    elif code != 0:
        assert code == 1, run.output[-3000:]
        _resume_until_done(config, tmp_path / "logs")
    assert verify_import(server, target.db, "reference", crash_dump) == []


def test_a_target_down_longer_than_the_retry_window_fails_cleanly_and_resumes_exactly(
    restartable: PrivateMariaDB, crash_dump, tmp_path
):
    """The server stays away: after the retry window (2 s here instead of 60 s, set in the child process)
    the import exits with 1 and a message naming the table, the file and the byte, and no traceback;
    once the server is back, running it again completes with exactly the source rows."""
    server = restartable.server
    target = Target(server, _database_maker(restartable), tmp_path / "work", checkpoint="file")
    config = target.config(crash_dump, table_concurrency=len(crash_dump.rows))
    probe = target.probe(crash_dump)
    short_window = [
        sys.executable,
        "-c",
        (
            "import sys; import airflow_provider_lightning.core.backend.logical as logical; "
            "logical.RETRY_WINDOW = 2.0; from airflow_provider_lightning.core.cli import main; "
            "sys.exit(main(sys.argv[1:]))"
        ),
    ]
    run = LightningRun(config, log_dir=tmp_path / "logs", command=short_window)
    assert wait_for_moment(KillPoint("rows", fraction=0.4), run, probe, 0, 120), run.output[-3000:]
    probe.close()
    restartable.kill()
    try:
        code = run.wait(120)
    finally:
        restartable.start()

    assert code == 1, run.output[-3000:]
    assert "Traceback" not in run.output
    message = run.stderr[run.stderr.index("\nlightning: "):]
    assert re.search(r"lost the target database while writing rows from shop\.\w+\.[\w.]+ at byte \d+", message)
    assert "run the import again" in message
    _resume_until_done(config, tmp_path / "logs")
    assert verify_import(server, target.db, "reference", crash_dump) == []
