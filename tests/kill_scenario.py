"""The crash scenario: kill an import at seeded random moments, resume it until it completes, compare.

Used by ``tests/core/test_crash_resume.py`` through the ``lightning`` command, and meant to be reused
to run the same scenario through Airflow: the parts that depend on *how* an import runs are a
:class:`ImportRun` handle (start it, see whether it ended, SIGKILL it) and a ``start`` function; the
dump, the kill plan, the probes of the target and the final comparison do not change.

    dump = write_crash_dump(tmp / "dump")
    plans = plan_kills(seed=20260101, kills=20)
    for plan in plans:
        trial = run_trial(plan, start=lambda: LightningRun(config, log_dir=logs),
                          probe=TargetProbe(server, db, info, dump))
        assert verify_import(server, db, reference_db, dump) == []

Everything is decided by the seed except the exact instant a SIGKILL lands, which depends on timing;
kills are aimed by committed row counts (read from the progress markers) rather than by the clock, so
where they land is reproducible to within a batch or two.
"""

from __future__ import annotations

import math
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pymysql

from airflow_provider_lightning.core import sample
from tests.conftest import MySQLServer

SOURCE_SCHEMA = "shop"

# A table with no key at all and many duplicate rows: the case where a doubled batch cannot be caught by a
# duplicate-key error and only an exact multiset comparison tells.
TALLY = sample.SampleTable(
    SOURCE_SCHEMA,
    "tally",
    "CREATE TABLE `tally` (\n  `n` int(11) DEFAULT NULL,\n  `word` varchar(20) DEFAULT NULL\n"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
    lambda rng, i: (rng.randint(1, 40), rng.choice(("red", "green", "blue", "o'brien", "", None))),
)

SBTEST = sample.SampleTable(SOURCE_SCHEMA, "sbtest", sample.SBTEST.create, sample.SBTEST.make_row)


@dataclass(frozen=True)
class CrashDump:
    """A generated dump and what a correct import of it holds."""

    path: Path
    rows: dict[str, int]  # table name -> rows
    no_key: tuple[str, ...]  # tables without any key: compared row for row as multisets
    columns: dict[str, tuple[str, ...]]  # table name -> column names, for the multiset comparison

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def tables(self) -> list[str]:
        return sorted(self.rows)


def write_crash_dump(out: Path, *, rows: int = 15_000, seed: int = 1) -> CrashDump:
    """The shop dump (a keyed table, a table over 3 SQL files, a table without a key, a view), plus a
    keyless CSV table with duplicate rows over 3 files and a keyed table over 2 gzip-compressed files.

    At the default size (180,000 rows, 9 MiB) an uninterrupted ``lightning import`` takes about 2.5 s.
    """
    sample.write_shop_dump(out, rows=rows, seed=seed)
    sample.write_table(out, TALLY, rows * 4, seed=seed, files=3, fmt="csv")
    sample.write_table(out, SBTEST, rows * 2, seed=seed, files=2, compress="gz")
    return CrashDump(
        path=out,
        rows={"customers": rows, "orders": rows * 3, "events": rows * 2, "tally": rows * 4, "sbtest": rows * 2},
        no_key=("events", "tally"),
        columns={"events": ("ts", "kind", "payload"), "tally": ("n", "word")},
    )


def write_config(
    path: Path,
    *,
    dump: CrashDump,
    server: MySQLServer,
    target_db: str,
    info_schema: str,
    checkpoint: str = "file",
    checkpoint_file: Path | None = None,
    checkpoint_schema: str = "",
    batch_size: str = "64KiB",
    region_concurrency: int = 2,
    table_concurrency: int = 0,
    tables: Sequence[str] | None = None,
    extra: str = "",
) -> Path:
    """A tidb-lightning.toml importing ``dump`` into ``target_db`` (a route renames the ``shop`` schema).

    ``info_schema`` is ``[lightning] task-info-schema-name`` ("" turns the progress markers off);
    ``checkpoint`` is the driver, with ``checkpoint_file`` (file) or ``checkpoint_schema`` (mysql);
    ``tables`` limits the import to some of the dump's tables; ``table_concurrency`` 0 is Lightning's
    default (as many as ``region_concurrency``).
    """
    filter_line = ""
    if tables is not None:
        filter_line = "filter = [" + ", ".join(f'"{SOURCE_SCHEMA}.{t}"' for t in tables) + "]\n"
    if checkpoint == "file":
        if checkpoint_file is None:
            raise ValueError("the file driver needs checkpoint_file")
        store = f'driver = "file"\ndsn = "{checkpoint_file}"\n'
    else:
        store = f'driver = "mysql"\nschema = "{checkpoint_schema}"\n'
    path.write_text(
        f"""[lightning]
region-concurrency = {region_concurrency}
table-concurrency = {table_concurrency}
task-info-schema-name = "{info_schema}"

[tidb]
host = "{server.host}"
port = {server.port}
user = "{server.user}"
password = "{server.password}"

[mydumper]
data-source-dir = "{dump.path}"
{filter_line}
[mydumper.csv]
header = false

[tikv-importer]
logical-import-batch-size = "{batch_size}"

[checkpoint]
{store}
[[routes]]
schema-pattern = "{SOURCE_SCHEMA}"
target-schema = "{target_db}"
{extra}"""
    )
    return path


# --- running an import ----------------------------------------------------------------------------------


class ImportRun(Protocol):
    """One attempt at the import, running somewhere (a process, an Airflow task)."""

    def poll(self) -> int | None:
        """The exit code once it ended, else None."""
        ...

    def kill(self) -> None:
        """End it abruptly (SIGKILL) and wait until it is gone."""
        ...

    def wait(self, timeout: float) -> int: ...

    @property
    def output(self) -> str:
        """What it printed (stdout then stderr), for assertions and failure messages."""
        ...


def lightning_command() -> list[str]:
    script = Path(sys.executable).with_name("lightning")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "airflow_provider_lightning.core.cli"]


class LightningRun:
    """``lightning import -c <config>`` as a child process (its own session, so SIGKILL hits only it)."""

    def __init__(
        self,
        config: Path,
        *,
        log_dir: Path,
        env: dict[str, str] | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        n = len(list(log_dir.glob("run-*.out")))
        self._out_path = log_dir / f"run-{n}.out"
        self._err_path = log_dir / f"run-{n}.err"
        environment = {**os.environ, **(env or {})}
        with open(self._out_path, "wb") as out, open(self._err_path, "wb") as err:
            self.process = subprocess.Popen(
                [*(command or lightning_command()), "import", "-c", str(config), "--no-progress"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=environment, start_new_session=True,
            )

    def poll(self) -> int | None:
        return self.process.poll()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the import did not end within {timeout}s:\n{self.output[-3000:]}") from None

    @property
    def stdout(self) -> str:
        return self._out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self._err_path.read_text(errors="replace")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


# --- looking at the target ------------------------------------------------------------------------------


def _missing(exc: BaseException) -> bool:
    return isinstance(exc, pymysql.err.MySQLError) and bool(exc.args) and exc.args[0] in (1049, 1146)


@dataclass
class TargetProbe:
    """Reads, on the target, what an import has committed so far."""

    server: MySQLServer
    target_db: str
    info_schema: str
    dump: CrashDump
    _conn: pymysql.connections.Connection | None = field(default=None, repr=False)

    def _connection(self) -> pymysql.connections.Connection:
        if self._conn is None or not self._conn.open:
            self._conn = self.server.connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def committed_rows(self) -> int:
        """Rows committed so far, by the progress markers (0 before there are any)."""
        return sum(self.marker_rows().values())

    def marker_rows(self) -> dict[str, int]:
        """Committed rows per table (`` `db`.`tbl` ``), by the progress markers."""
        if not self.info_schema:
            return {}
        try:
            with self._connection().cursor() as cur:
                cur.execute(
                    f"SELECT table_name, SUM(rows_done) FROM `{self.info_schema}`.import_progress_v1 "
                    "GROUP BY table_name"
                )
                return {name: int(rows) for name, rows in cur.fetchall()}
        except pymysql.err.MySQLError as exc:
            if _missing(exc):
                return {}
            raise

    def table_counts(self) -> dict[str, int]:
        """``COUNT(*)`` of each of the dump's tables in the target (0 for a table not created yet)."""
        counts = {}
        with self._connection().cursor() as cur:
            for table in self.dump.tables:
                try:
                    cur.execute(f"SELECT COUNT(*) FROM `{self.target_db}`.`{table}`")
                    counts[table] = int(cur.fetchone()[0])
                except pymysql.err.MySQLError as exc:
                    if not _missing(exc):
                        raise
                    counts[table] = 0
        return counts


# --- the kill plan --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KillPoint:
    """When to SIGKILL one run.

    ``kind``: ``rows`` — once the markers show ``fraction`` of the rows this run has left committed (so it
    lands while tables are partly imported), then ``delay`` more seconds; ``startup`` — ``delay``
    seconds after the run starts, whatever it is doing; ``end`` — once every row is committed, ``delay``
    more seconds (while it checksums and cleans up, if it has not exited by then).
    """

    kind: str
    fraction: float = 0.0
    delay: float = 0.0


@dataclass(frozen=True)
class TrialPlan:
    """One import: killed at each point in turn (each resume gets the next), then left to complete."""

    index: int
    kills: tuple[KillPoint, ...]
    checkpoint: str  # "file" or "mysql"


def plan_kills(seed: int, kills: int = 20, *, second_kill: float = 0.3) -> list[TrialPlan]:
    """``kills`` trials, all from ``seed``: 85% aimed at partly imported tables, the rest at start-up and
    at the end; a trial's resumed run is killed again with probability ``second_kill``; checkpoint
    stores alternate between file and mysql."""
    rng = random.Random(seed)
    n_startup = max(1, kills // 10)
    n_end = max(1, kills // 20)
    kinds = ["startup"] * n_startup + ["end"] * n_end
    kinds += ["rows"] * (kills - len(kinds))
    rng.shuffle(kinds)
    plans = []
    for index, kind in enumerate(kinds):
        points = [_point(rng, kind)]
        if rng.random() < second_kill:
            points.append(_point(rng, "rows"))
        plans.append(TrialPlan(index, tuple(points), "mysql" if index % 2 else "file"))
    return plans


def _point(rng: random.Random, kind: str) -> KillPoint:
    if kind == "rows":
        return KillPoint("rows", fraction=rng.uniform(0.02, 0.95), delay=rng.uniform(0.0, 0.05))
    if kind == "startup":
        return KillPoint("startup", delay=rng.uniform(0.2, 1.2))
    return KillPoint("end", delay=rng.uniform(0.0, 0.15))


# --- one trial ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KillRecord:
    """What one SIGKILL hit: committed rows by the markers, rows per table, and how far the checkpoint
    store lagged behind the committed data at that moment."""

    trial: int
    run: int
    point: KillPoint
    landed: bool  # False: the run had already ended when the kill came
    seconds_after_start: float
    committed_rows: int
    table_counts: dict[str, int]
    partial_tables: tuple[str, ...]
    checkpoint_lag_rows: int | None


@dataclass
class TrialResult:
    plan: TrialPlan
    kills: list[KillRecord]
    runs: int
    final_output: str
    seconds: float


def run_trial(
    plan: TrialPlan,
    *,
    start: Callable[[], ImportRun],
    probe: TargetProbe,
    checkpoint_rows: Callable[[], dict[str, int]] | None = None,
    timeout: float = 120.0,
) -> TrialResult:
    """Run the import, SIGKILL it at each of the plan's points, rerun it each time, until a run ends.

    Returns the kills with what they hit and the last run's output; raises if the last run did not
    exit with 0. ``checkpoint_rows`` reads committed rows per table from the checkpoint store (``None``
    skips the lag measurement).
    """
    started = time.monotonic()
    records: list[KillRecord] = []
    runs = 0
    run: ImportRun | None = None
    for point in plan.kills:
        base = probe.committed_rows()
        run = start()
        runs += 1
        run_started = time.monotonic()
        landed = wait_for_moment(point, run, probe, base, timeout)
        run.kill()
        seconds = time.monotonic() - run_started
        counts = probe.table_counts()
        markers = probe.marker_rows()
        lag = None
        if checkpoint_rows is not None:
            stored = checkpoint_rows()
            lag = sum(max(0, rows - stored.get(name, 0)) for name, rows in markers.items())
        partial = tuple(t for t, n in counts.items() if 0 < n < probe.dump.rows[t])
        records.append(
            KillRecord(plan.index, runs, point, landed, seconds, sum(markers.values()), counts, partial, lag)
        )
        if not landed:
            break  # it ended before the kill came: it is the last run
    if not records or records[-1].landed:
        run = start()
        runs += 1
        run.wait(timeout)
    if run.poll() != 0:
        raise AssertionError(f"trial {plan.index}: the last run failed ({run.poll()}):\n{run.output[-4000:]}")
    return TrialResult(plan, records, runs, run.output, time.monotonic() - started)


def wait_for_moment(point: KillPoint, run: ImportRun, probe: TargetProbe, base: int, timeout: float) -> bool:
    """Wait for the moment ``point`` names (``base``: rows committed before this run); False if the run
    ended first."""
    deadline = time.monotonic() + timeout
    if point.kind == "startup":
        goal = None
    elif point.kind == "end":
        goal = probe.dump.total_rows
    else:
        remaining = probe.dump.total_rows - base
        goal = base + max(1, math.ceil(point.fraction * remaining))
    start = time.monotonic()
    while goal is not None and probe.committed_rows() < goal:
        if run.poll() is not None:
            return False
        if time.monotonic() > deadline:
            raise AssertionError(f"the import did not reach {goal} committed rows within {timeout}s")
        time.sleep(0.005)
    until = (time.monotonic() if goal is not None else start) + point.delay
    while time.monotonic() < until:
        if run.poll() is not None:
            return False
        time.sleep(0.002)
    return run.poll() is None


# --- the verdict ----------------------------------------------------------------------------------------


def verify_import(
    server: MySQLServer, target_db: str, reference_db: str, dump: CrashDump, tables: Sequence[str] | None = None
) -> list[str]:
    """Differences between the imported tables and an uninterrupted reference import; [] when equal.

    Per table: ``COUNT(*)`` against the dump and ``CHECKSUM TABLE ... EXTENDED`` against the reference;
    for tables without a key also the exact multiset of rows (each distinct row and how often it
    occurs), compared on the server.
    """
    problems = []
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            tables = list(tables) if tables is not None else dump.tables
            for table in tables:
                cur.execute(f"SELECT COUNT(*) FROM `{target_db}`.`{table}`")
                count = int(cur.fetchone()[0])
                if count != dump.rows[table]:
                    problems.append(f"{table}: {count} rows, the dump has {dump.rows[table]}")
                cur.execute(f"CHECKSUM TABLE `{target_db}`.`{table}`, `{reference_db}`.`{table}` EXTENDED")
                got, want = (row[1] for row in cur.fetchall())
                if got != want:
                    problems.append(f"{table}: CHECKSUM TABLE {got}, the reference import has {want}")
            for table in (t for t in dump.no_key if t in tables):
                for row in multiset_difference(cur, target_db, reference_db, table, dump.columns[table]):
                    problems.append(f"{table}: row {row[:-2]!r} is there {row[-2]} times, in the reference {row[-1]}")
    finally:
        conn.close()
    return problems


def multiset_difference(cur, db: str, reference_db: str, table: str, columns: Sequence[str], limit: int = 20):
    """Distinct rows whose number of occurrences differs between the two tables: (cols..., here, there)."""
    cols = ", ".join(f"`{c}`" for c in columns)
    cur.execute(
        f"SELECT {cols}, SUM(here) AS here, SUM(there) AS there FROM ("
        f"SELECT {cols}, 1 AS here, 0 AS there FROM `{db}`.`{table}` UNION ALL "
        f"SELECT {cols}, 0, 1 FROM `{reference_db}`.`{table}`) AS both_sides "
        f"GROUP BY {cols} HAVING SUM(here) <> SUM(there) LIMIT {int(limit)}"
    )
    return [tuple(r[:-2]) + (int(r[-2]), int(r[-1])) for r in cur.fetchall()]


def summary_checksums(output: str, target_db: str) -> dict[str, str]:
    """The checksum column of ``lightning import``'s summary table, by table name: ``ok``, or ``done
    earlier`` for a table a killed run had already checked."""
    found: dict[str, str] = {}
    column = None
    prefix = f"`{target_db}`.`"
    for line in output.splitlines():
        words = line.split()
        if words[:1] == ["table"] and "checksum" in words:
            column = line.index("checksum")
        elif column is not None and line.startswith(prefix):
            name = line.split()[0]
            found[name[len(prefix):-1]] = re.split(r"\s{2,}", line[column:].strip())[0]
    return found


def checkpoint_rows_reader(config: Path) -> Callable[[], dict[str, int]]:
    """A function reading, from the checkpoint store ``config`` names, the rows each table has saved."""
    from airflow_provider_lightning.core.cli import open_store_for
    from airflow_provider_lightning.core.config import load_config

    loaded = load_config(str(config))

    def read() -> dict[str, int]:
        store = open_store_for(loaded)
        try:
            rows = {}
            for name in store.table_names():
                table = store.get_table(name)
                rows[name] = table.rows if table is not None else 0
            return rows
        finally:
            store.close()

    return read
