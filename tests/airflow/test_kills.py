"""SIGKILL the import inside real Airflow task processes, Clear through the REST API, end exactly.

The crash scenario of ``tests/kill_scenario.py`` (its dump, kill points, probes of the target and final
comparison), with the ``lightning`` process replaced by a DAG run on the real services (api-server,
scheduler, dag-processor, LocalExecutor; ``tests/airflow/services.py``). Each table is one mapped task
instance ``import.import_table[k]``, run by a task runner process that the LocalExecutor's worker forks
and supervises; that process is found by the title the task SDK gives it (``airflow worker -- <task
instance id>``, the id the REST API lists) among the scheduler's descendants, and SIGKILLed. Its
supervisor reports the task instance failed; it is cleared through ``/api/v2`` as the UI's Clear does,
with what comes after it, until the run succeeds; then every table must equal an uninterrupted import
of the same dump.

The harness below (:class:`AirflowImport`, :func:`kill_at`, :func:`run_airflow_trial`) is also what
``benchmarks/airflow_kills.py`` runs, for the full 20 kills.

Run time: about 35 s on 2 cores, plus the services' start-up (15 s) if no other test started them.
"""

from __future__ import annotations

import json
import math
import random
import signal
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from airflow_provider_lightning.core.checkpoints.mysql_store import MySQLCheckpointStore
from airflow_provider_lightning.core.target import ConnectionSettings
from airflow_provider_lightning.core.airflow_api.client import AirflowApiClient, RestStateStoreAccessor
from airflow_provider_lightning.core.checkpoints.state_store import TaskStateCheckpointStore
from tests.airflow.services import AirflowServices
from tests.conftest import MySQLServer
from tests.kill_scenario import (
    CrashDump,
    KillPoint,
    LightningRun,
    TargetProbe,
    TrialPlan,
    verify_import,
    write_config,
    write_crash_dump,
)

DAG_ID = "lightning_kill_test"  # tests/airflow/dags/lightning_kill_test.py
IMPORT_TABLE = "import.import_table"
POST_PROCESS = "import.post_process"
CLEAN_CHECKPOINTS = "import.clean_checkpoints"
KILL_SEED = 20261126


# --- the harness: one DAG run, watched and steered from outside --------------------------------------------


@dataclass(frozen=True)
class TaskProcess:
    """A running task instance and the task runner process executing it."""

    task_id: str
    map_index: int
    table: str | None  # `db`.`tbl`, for import_table
    try_number: int
    ti_id: str
    process: psutil.Process
    supervisor: psutil.Process  # the LocalExecutor worker that forked it and reports its end

    @property
    def name(self) -> str:
        return f"{self.task_id}[{self.map_index}]" if self.map_index >= 0 else self.task_id


def alive(process: psutil.Process) -> bool:
    """Running, and not a zombie (a task runner that ended stays one until its supervisor reaps it)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def task_runner_process(scheduler: psutil.Process, ti_id: str) -> tuple[psutil.Process, psutil.Process] | None:
    """The process running task instance ``ti_id`` and its supervisor, among the scheduler's
    descendants, or None.

    The LocalExecutor's workers are the scheduler's children; each supervises a task by forking a task
    runner, which titles itself ``airflow worker -- <ti id>`` before it parses the DAG. That child is the
    one running the operator: killing it is what a machine killing "the task" does, while its supervisor
    (titled ``airflow worker -- LocalExecutor: ...``) lives on to report the death.
    """
    title = f"airflow worker -- {ti_id}"
    for proc in scheduler.children(recursive=True):
        try:
            if " ".join(proc.cmdline()).strip() != title or not alive(proc):
                continue
            parent = proc.parent()
            if parent is not None and " ".join(parent.cmdline()).startswith("airflow worker -- LocalExecutor"):
                return proc, parent
        except psutil.Error:  # it ended while we looked
            continue
    return None


@dataclass(frozen=True)
class KillTarget:
    """Where one trial imports to: a database, its own task-info schema (so the markers there are this
    run's alone) and, for the mysql checkpoint driver, its own checkpoint schema."""

    db: str
    info_schema: str
    checkpoint: str = "airflow"  # or "mysql"
    checkpoint_schema: str = ""

    def table(self, name: str) -> str:
        return f"`{self.db}`.`{name}`"

    def databases(self) -> list[str]:
        return [d for d in (self.db, self.info_schema, self.checkpoint_schema) if d]


class AirflowImport:
    """One DAG run of ``lightning_kill_test``: triggered, inspected and cleared through the REST API, its
    task processes found and killed with psutil."""

    def __init__(
        self,
        services: AirflowServices,
        client: AirflowApiClient,
        server: MySQLServer,
        dump: CrashDump,
        target: KillTarget,
        *,
        tables: Sequence[str] | None = None,
    ) -> None:
        self.services = services
        self.client = client
        self.server = server
        self.dump = dump
        self.target = target
        self.tables = list(tables) if tables is not None else dump.tables
        self.scheduler = psutil.Process(services.processes["scheduler"].pid)
        self.run_id = ""
        self.started = 0.0
        self.cleared: list[list[str]] = []  # what each Clear cleared
        self._tables_by_index: list[str] = []

    def trigger(self) -> str:
        conf = {
            "source": str(self.dump.path),
            "target_db": self.target.db,
            "info_schema": self.target.info_schema,
            "filter": [f"shop.{t}" for t in self.tables],
            "checkpoint_driver": self.target.checkpoint,
            "checkpoint_schema": self.target.checkpoint_schema,
        }
        self.run_id = self.client.trigger_dag_run(DAG_ID, conf)["dag_run_id"]
        self.started = time.monotonic()
        return self.run_id

    # -- looking -----------------------------------------------------------------------------------

    @property
    def total_rows(self) -> int:
        return sum(self.dump.rows[t] for t in self.tables)

    def short_name(self, table: str) -> str:
        """The dump's name (``tbl``) of a target table `` `db`.`tbl` ``."""
        return next(name for name in self.tables if self.target.table(name) == table)

    def table_rows(self, table: str) -> int:
        """The dump's rows of a target table `` `db`.`tbl` ``."""
        return self.dump.rows[self.short_name(table)]

    def task_instances(self) -> list[dict]:
        return self.client.task_instances(DAG_ID, self.run_id)

    def state(self) -> str:
        return self.client.get_dag_run(DAG_ID, self.run_id)["state"]

    def running(self, task_ids: Sequence[str] = (IMPORT_TABLE,)) -> list[TaskProcess]:
        """The running task instances of ``task_ids`` whose task runner process is up, by task and index."""
        found = []
        for ti in self.task_instances():
            if ti["task_id"] not in task_ids or ti["state"] != "running":
                continue
            found_process = task_runner_process(self.scheduler, ti["id"])
            if found_process is None:
                continue
            proc, supervisor = found_process
            if ti.get("pid") not in (None, proc.pid):
                raise AssertionError(f"the API says {ti['task_id']} runs as pid {ti['pid']}, its title says {proc.pid}")
            table = self.table_of(ti["map_index"]) if ti["task_id"] == IMPORT_TABLE else None
            found.append(
                TaskProcess(ti["task_id"], ti["map_index"], table, ti["try_number"], ti["id"], proc, supervisor)
            )
        return sorted(found, key=lambda t: (t.task_id, t.map_index))

    def table_of(self, map_index: int) -> str:
        """The table ``import_table[map_index]`` imports, from init_checkpoint's XCom (the Grid's label,
        the rendered map index, is not to be relied on: a new try shows the bare index until its task
        renders it, and a task runner's death blanks it)."""
        if not self._tables_by_index:
            self._tables_by_index = [group[0] for group in self.xcom("import.init_checkpoint")]
        return self._tables_by_index[map_index]

    def task_state(self, task_id: str, map_index: int) -> str | None:
        for ti in self.task_instances():
            if ti["task_id"] == task_id and ti["map_index"] == map_index:
                return ti["state"]
        raise KeyError((task_id, map_index))

    def checkpoint_rows(self, map_index: int, table: str) -> int:
        """Rows the checkpoint store holds for ``table``, imported by ``import_table[map_index]``."""
        if self.target.checkpoint == "mysql":
            settings = ConnectionSettings(self.server.host, self.server.port, self.server.user, self.server.password)
            store = MySQLCheckpointStore(settings, self.target.checkpoint_schema)
        else:
            accessor = RestStateStoreAccessor(self.client, DAG_ID, self.run_id, IMPORT_TABLE, map_index)
            store = TaskStateCheckpointStore(accessor)
        try:
            checkpoint = store.get_table(table)
        finally:
            store.close()
        return checkpoint.rows if checkpoint is not None else 0

    def xcom(self, task_id: str, map_index: int = -1):
        path = f"/dags/{DAG_ID}/dagRuns/{self.run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.client.request("GET", path, params={"map_index": map_index}).json()["value"]

    def task_log(self, task_id: str, map_index: int, try_number: int) -> str:
        """One try's log, as the UI shows it (the REST API's log endpoint), as text."""
        path = f"/dags/{DAG_ID}/dagRuns/{self.run_id}/taskInstances/{task_id}/logs/{try_number}"
        content = self.client.request("GET", path, params={"map_index": map_index}).json()["content"]
        return "\n".join(json.dumps(line) if not isinstance(line, str) else line for line in content)

    def post_process_checksums(self) -> dict[str, str]:
        return {p["table"]: p["checksum"] for p in self.xcom(POST_PROCESS)}

    def rows_written_by_last_try(self) -> dict[str, int]:
        """Per table, the rows its last (successful) try sent."""
        written = {}
        for ti in self.task_instances():
            if ti["task_id"] == IMPORT_TABLE:
                for result in self.xcom(IMPORT_TABLE, ti["map_index"]):
                    written[result["table"]] = result["rows_written"]
        return written

    # -- acting ------------------------------------------------------------------------------------

    def kill(self, task: TaskProcess, timeout: float = 60) -> str | None:
        """SIGKILL the task runner, wait until it is gone and its task instance has a final state; None
        if it had ended by itself before the signal."""
        try:
            task.process.send_signal(signal.SIGKILL)  # psutil checks first that the pid was not reused
        except psutil.NoSuchProcess:
            return None
        deadline = time.monotonic() + timeout
        while alive(task.process):
            if time.monotonic() > deadline:
                raise AssertionError(f"{task.name} (pid {task.process.pid}) outlived SIGKILL by {timeout}s")
            time.sleep(0.01)
        while time.monotonic() < deadline:
            state = self.task_state(task.task_id, task.map_index)
            if state in ("failed", "success", "up_for_retry"):
                return state
            time.sleep(0.2)
        raise AssertionError(f"{task.name} did not end within {timeout}s of its kill:\n{self.services.log_tail('scheduler')}")

    def clear_failed(self) -> list[str]:
        """Clear, as the UI does, every failed table and what comes after the tables; return what was
        failed (``task[index] state``).

        A Clear that comes right after a table failed can cross the scheduler marking what follows
        ``upstream_failed``: clean_checkpoints can end up so after the Clear, with every table and
        post_process done. A person clears it again; so does this.
        """
        failed = [
            (ti["task_id"], ti["map_index"], ti["state"])
            for ti in self.task_instances()
            if ti["state"] in ("failed", "upstream_failed")
            and ti["task_id"] in (IMPORT_TABLE, POST_PROCESS, CLEAN_CHECKPOINTS)
        ]
        if not failed:
            return []
        targets: list[str | tuple[str, int]] = [(t, i) for t, i, _ in failed if t == IMPORT_TABLE]
        if targets or any(t == POST_PROCESS for t, _, _ in failed):
            targets.append(POST_PROCESS)
        targets.append(CLEAN_CHECKPOINTS)
        self.client.clear_task_instances(DAG_ID, self.run_id, targets)
        names = [f"{t}[{i}] {state}" if i >= 0 else f"{t} {state}" for t, i, state in sorted(failed)]
        self.cleared.append(names)
        return names

    def wait_until_done(self, timeout: float = 180) -> str:
        return self.services.wait_for_run(self.client, DAG_ID, self.run_id, ("success", "failed"), timeout)["state"]

    def finish(self, timeout: float = 180, max_clears: int = 5) -> str:
        """Let the run end; clear what failed and wait again, until it succeeds (or ``max_clears`` runs out)."""
        for _ in range(max_clears + 1):
            state = self.wait_until_done(timeout)
            if state == "success" or not self.clear_failed():
                return state
        return self.state()


@dataclass(frozen=True)
class AirflowKill:
    """What one SIGKILL hit: which task, how far its table was, how far its checkpoint store lagged."""

    point: KillPoint
    task: str
    table: str | None
    try_number: int
    seconds_after_trigger: float
    state_after: str  # what the supervisor reported: "failed", or "success" if it had just finished
    supervisor_survived: bool  # the LocalExecutor worker that ran it lives on
    log_says_sigkill: bool  # the try's log (through the REST API) reports the SIGKILL
    committed_rows: int  # the table's rows committed, by its progress markers
    table_count: int  # COUNT(*) of the table right after the kill
    table_total: int  # the table's rows in the dump
    checkpoint_rows: int | None  # the table's rows in the checkpoint store right after the kill

    @property
    def mid_table(self) -> bool:
        return self.state_after == "failed" and 0 < self.table_count < self.table_total

    @property
    def checkpoint_lag(self) -> int:
        return 0 if self.checkpoint_rows is None else max(0, self.committed_rows - self.checkpoint_rows)


def kill_at(
    point: KillPoint, run: AirflowImport, probe: TargetProbe, rng: random.Random, timeout: float = 120
) -> AirflowKill | None:
    """Wait for the moment ``point`` names, SIGKILL a task process then, and return what it hit.

    ``rows``: once the markers show ``fraction`` of the rows still missing committed (plus ``delay``
    seconds), one of the import_table processes whose table is partly imported, chosen by ``rng``;
    ``startup``: an import_table process ``delay`` seconds after it started, before or as its rows
    begin; ``end``: once every row is committed (plus ``delay``), whichever process still works on the
    import, an import_table finishing its table or post_process checksumming. None: the run's import
    ended before the moment came.
    """
    deadline = time.monotonic() + timeout
    base = probe.committed_rows()
    while True:
        if point.kind == "startup":
            victim = _wait_for_startup(run, rng, point.delay, deadline)
        else:
            if point.kind == "end":
                goal, task_ids = run.total_rows, (IMPORT_TABLE, POST_PROCESS)
            else:
                goal = base + max(1, math.ceil(point.fraction * (run.total_rows - base)))
                task_ids = (IMPORT_TABLE,)
            partly = point.kind == "rows"
            victim = _wait_for_rows(run, probe, rng, goal, point.delay, task_ids, deadline, partly=partly)
        if victim is None:
            return None
        seconds = time.monotonic() - run.started
        state = run.kill(victim)
        if state is not None:
            break
        # It ended by itself between being chosen and the signal: a startup kill's moment is gone, the
        # others choose again among what still runs.
        if point.kind == "startup":
            return None
    survived = alive(victim.supervisor)
    log = run.task_log(victim.task_id, victim.map_index, victim.try_number)
    said = '"signal_name": "SIGKILL"' in log
    table = victim.table
    if table is None:  # post_process
        return AirflowKill(point, victim.name, None, victim.try_number, seconds, state, survived, said, 0, 0, 0, None)
    return AirflowKill(
        point=point,
        task=victim.name,
        table=table,
        try_number=victim.try_number,
        seconds_after_trigger=seconds,
        state_after=state,
        supervisor_survived=survived,
        log_says_sigkill=said,
        committed_rows=probe.marker_rows().get(table, 0),
        table_count=probe.table_counts()[run.short_name(table)],
        table_total=run.table_rows(table),
        checkpoint_rows=run.checkpoint_rows(victim.map_index, table),
    )


def _wait_for_rows(
    run: AirflowImport,
    probe: TargetProbe,
    rng: random.Random,
    goal: int,
    delay: float,
    task_ids: Sequence[str],
    deadline: float,
    *,
    partly: bool,
) -> TaskProcess | None:
    """Once ``goal`` rows are committed (and ``delay`` seconds more), a running task of ``task_ids`` —
    with ``partly``, one whose table is partly imported at that instant; None if the run ends first.

    The markers are read every 5 ms, the running tasks (the REST API, tens of ms) every quarter second
    (continuously once the moment has come), so that between reading a table's markers and the signal
    only a millisecond or two pass.
    """
    tasks: list[TaskProcess] = []
    listed = 0.0
    reached: float | None = None
    waiting = False  # the moment has come and no task listed fits: list them again at once
    while True:
        now = time.monotonic()
        if now - listed > (0.02 if waiting else 0.25):
            tasks, listed = run.running(task_ids), time.monotonic()
            if not tasks and run.state() in ("success", "failed"):
                return None
        committed = probe.marker_rows()
        if reached is None and sum(committed.values()) >= goal:
            reached = now
        if reached is not None and now >= reached + delay:
            candidates = [t for t in tasks if alive(t.process)]
            if partly:
                candidates = [t for t in candidates if 0 < committed.get(t.table, 0) < run.table_rows(t.table)]
            if candidates:
                return rng.choice(candidates)
            waiting = True
        if now > deadline:
            raise AssertionError(f"no task to kill at {goal} committed rows; tasks: {_states(run)}")
        time.sleep(0.005)


def _wait_for_startup(run: AirflowImport, rng: random.Random, delay: float, deadline: float) -> TaskProcess | None:
    """An import_table process ``delay`` seconds after it was first seen running — a try that starts
    after this call (the tables' first tries, or a cleared table's next one), not one importing all
    along; None if the run ends first. First seen: once the task runner has its title, right after the
    task SDK started it, before it has parsed the DAG."""
    before = {t.ti_id for t in run.running()}
    while True:
        tasks = run.running()
        new = [t for t in tasks if t.ti_id not in before]
        if new:
            victim = rng.choice(new)
            time.sleep(delay)
            return victim
        if not tasks and run.state() in ("success", "failed"):
            return None
        if time.monotonic() > deadline:
            raise AssertionError(f"no import_table process started; tasks: {_states(run)}")
        time.sleep(0.02)


def _sleep_until(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def _states(run: AirflowImport) -> list[tuple[str, int, str]]:
    return [(t["task_id"], t["map_index"], t["state"]) for t in run.task_instances()]


@dataclass
class AirflowTrialResult:
    plan: TrialPlan
    run_id: str
    kills: list[AirflowKill]
    cleared: list[list[str]]
    state: str
    seconds: float
    problems: list[str] = field(default_factory=list)


def run_airflow_trial(
    plan: TrialPlan, run: AirflowImport, probe: TargetProbe, reference_db: str, seed: int
) -> AirflowTrialResult:
    """Trigger the run, SIGKILL at each of the plan's points (clearing what failed after each), let it
    finish (clearing again as often as it takes), and compare every table with the reference import."""
    rng = random.Random(f"{seed}/{plan.index}")  # which process, when several are candidates
    run.trigger()
    kills = []
    for point in plan.kills:
        kill = kill_at(point, run, probe, rng)
        if kill is None:
            break
        kills.append(kill)
        run.clear_failed()
    state = run.finish()
    result = AirflowTrialResult(plan, run.run_id, kills, run.cleared, state, time.monotonic() - run.started)
    if state != "success":
        result.problems.append(f"the run ended {state}: {_states(run)}")
        return result
    result.problems += verify_import(run.server, run.target.db, reference_db, run.dump, run.tables)
    checksums = run.post_process_checksums()
    want = {run.target.table(t): "ok" for t in run.tables}
    if checksums != want:
        result.problems.append(f"post_process checksums {checksums}")
    # The last try of each table sent exactly the rows missing at its last kill: none again, none skipped.
    written = run.rows_written_by_last_try()
    for table in run.tables:
        name = run.target.table(table)
        last = [k for k in kills if k.table == name and k.state_after == "failed"]
        missing = run.dump.rows[table] - (last[-1].table_count if last else 0)
        if written.get(name) != missing:
            result.problems.append(f"{table}: the last try wrote {written.get(name)} rows, {missing} were missing")
    return result


def drop_databases(server: MySQLServer, names: Sequence[str]) -> None:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            for name in names:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def import_reference(server: MySQLServer, dump: CrashDump, workdir: Path, db: str, info_schema: str) -> None:
    """The dump imported without interruption by the ``lightning`` command: what every run must equal."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(
        workdir / "reference.toml", dump=dump, server=server, target_db=db, info_schema=info_schema,
        checkpoint_file=workdir / "reference-cp.json",
    )
    run = LightningRun(config, log_dir=workdir / "reference-logs")
    if run.wait(120) != 0:
        raise AssertionError(f"the reference import failed:\n{run.output[-3000:]}")


# --- the tests ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crash_dump(tmp_path_factory: pytest.TempPathFactory) -> CrashDump:
    return write_crash_dump(tmp_path_factory.mktemp("airflow-kills") / "dump")


@pytest.fixture(scope="module")
def reference_db(mysql_server: MySQLServer, crash_dump: CrashDump, tmp_path_factory) -> Iterator[str]:
    name, info = f"lt_kref_{uuid.uuid4().hex[:10]}", f"lt_krefinfo_{uuid.uuid4().hex[:8]}"
    try:
        import_reference(mysql_server, crash_dump, tmp_path_factory.mktemp("airflow-kills-ref"), name, info)
        yield name
    finally:
        drop_databases(mysql_server, [name, info])


@pytest.fixture
def kill_target(mysql_server: MySQLServer) -> Iterator[KillTarget]:
    target = KillTarget(f"lt_akill_{uuid.uuid4().hex[:10]}", f"lt_akillinfo_{uuid.uuid4().hex[:8]}")
    yield target
    drop_databases(mysql_server, target.databases())


@pytest.fixture
def kill_dag(airflow_services) -> Iterator[AirflowApiClient]:
    """An API client, once the dag-processor has parsed the kill-test DAG."""
    client = airflow_services.client()
    try:
        airflow_services.wait_for_dag(client, DAG_ID)
        yield client
    finally:
        client.close()


@pytest.mark.slow
def test_three_task_processes_killed_mid_table_and_cleared_through_the_api_end_with_exactly_the_source_rows(
    airflow_services, kill_dag, mysql_server, crash_dump, reference_db, kill_target, record_property
):
    """Three SIGKILLs of import_table task processes at seeded moments (when the markers show a random
    share of the missing rows committed; the process is one whose table is partly imported), each
    followed by a Clear through the REST API; the run then succeeds and every table equals the
    uninterrupted import — by count, CHECKSUM TABLE, the exact multiset of the keyless tables and
    post_process's checksum — and the last try of each table sent exactly the rows it was missing."""
    rng = random.Random(KILL_SEED)
    plan = TrialPlan(0, tuple(KillPoint("rows", fraction=rng.uniform(0.1, 0.6)) for _ in range(3)), "airflow")
    run = AirflowImport(airflow_services, kill_dag, mysql_server, crash_dump, kill_target)
    probe = TargetProbe(mysql_server, kill_target.db, kill_target.info_schema, crash_dump)
    try:
        result = run_airflow_trial(plan, run, probe, reference_db, KILL_SEED)
    finally:
        probe.close()

    for i, kill in enumerate(result.kills):
        landing = (
            f"{kill.task} (try {kill.try_number}) at {kill.table_count:,} of {kill.table_total:,} rows of "
            f"{kill.table}, {kill.seconds_after_trigger:.1f}s after the trigger; checkpoint store at "
            f"{kill.checkpoint_rows:,} rows"
        )
        record_property(f"kill_{i}", landing)
        print(f"kill {i}: {landing}")
    print(f"cleared {result.cleared}; {result.seconds:.1f}s from trigger to success")
    assert len(result.kills) == 3, result
    for kill in result.kills:
        assert kill.state_after == "failed", kill  # the supervisor saw its task runner die
        assert kill.supervisor_survived and kill.log_says_sigkill, kill
        assert 0 < kill.table_count < kill.table_total, kill  # the table was partly imported
        assert kill.table_count == kill.committed_rows, kill  # rows and markers committed together
        assert kill.checkpoint_rows is not None and kill.checkpoint_rows <= kill.committed_rows, kill
    assert len(result.cleared) >= 3
    assert result.state == "success"
    assert result.problems == []


@pytest.mark.slow
def test_a_task_process_killed_between_commit_and_checkpoint_doubles_no_row_of_a_keyless_table(
    airflow_services, kill_dag, mysql_server, crash_dump, reference_db, kill_target
):
    """The ``kill-after-commit`` failpoint makes the task runner importing the keyless CSV table SIGKILL
    itself right after a batch's COMMIT, before that batch reaches the Task State Store. Its supervisor
    reports the task failed; the target holds the batch (with its marker) and the store does not; the
    Clear resumes from the marker and sends exactly the rest."""
    table = kill_target.table("tally")
    failpoints = airflow_services.failpoints_file
    failpoints.write_text(json.dumps({"kill-after-commit": {"table": table, "batches": 5}}))
    run = AirflowImport(airflow_services, kill_dag, mysql_server, crash_dump, kill_target, tables=["tally"])
    probe = TargetProbe(mysql_server, kill_target.db, kill_target.info_schema, crash_dump)
    try:
        run.trigger()
        assert run.wait_until_done() == "failed"
        assert json.loads(failpoints.read_text()) == {}  # it fired (and fires no more)
        (ti,) = [t for t in run.task_instances() if t["task_id"] == IMPORT_TABLE]
        # (Not its rendered_map_index: after a task runner dies, the supervisor's report blanks it.)
        assert ti["state"] == "failed" and ti["map_index"] == 0
        assert '"signal_name": "SIGKILL"' in run.task_log(IMPORT_TABLE, 0, ti["try_number"])

        committed = probe.marker_rows()[table]
        in_store = run.checkpoint_rows(ti["map_index"], table)
        assert probe.table_counts()["tally"] == committed
        assert 0 < committed < crash_dump.rows["tally"]
        assert in_store < committed  # the batch the process died after is in the target only
        print(f"killed after the COMMIT of batch 5: {committed:,} rows committed, {in_store:,} in the Task State Store")

        assert f"{IMPORT_TABLE}[0] failed" in run.clear_failed()
        assert run.finish() == "success"
    finally:
        failpoints.write_text("{}")
        probe.close()
    assert verify_import(mysql_server, kill_target.db, reference_db, crash_dump, ["tally"]) == []
    assert run.post_process_checksums() == {table: "ok"}
    assert run.rows_written_by_last_try() == {table: crash_dump.rows["tally"] - committed}
