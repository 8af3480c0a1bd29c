"""The 20 random kills of ``tests/core/test_crash_resume.py``, through Airflow: SIGKILL the task processes
that import the tables, Clear them through the REST API, check every table ends exactly equal.

    .venv/bin/python benchmarks/airflow_kills.py                 # seed 20261125, 20 kills
    .venv/bin/python benchmarks/airflow_kills.py --seed 7 --kills 40 --json out.json

It starts its own services (api-server, scheduler, dag-processor, LocalExecutor, on a fresh PostgreSQL
database; ``tests/airflow/services.py``) with the test DAG ``tests/airflow/dags/lightning_kill_test.py``,
writes the crash dump of ``tests/kill_scenario.py`` (180,000 rows in 5 tables at the default size),
imports it once uninterrupted with the ``lightning`` command as the reference, and then runs one DAG
run per planned trial (``plan_kills``: most kills aimed, by the committed rows the progress markers
show, at a table partly imported; some at an import_table process just forked; some once every row is
committed, at whatever still runs — a table finishing up, or post_process checksumming; a third of the
trials kill the resumed table again). Trials alternate between the Task State Store and the mysql
checkpoint store. After each kill the failed task instances are cleared through ``/api/v2`` as the UI's
Clear does; each run must succeed with every table equal to the reference (count, ``CHECKSUM TABLE``,
the exact multiset of the keyless tables, post_process's checksum "ok") and the last try of each table
must have sent exactly the rows it was missing.

Needs the test MariaDB and PostgreSQL (``LIGHTNING_TEST_MYSQL_URL``, ``LIGHTNING_TEST_POSTGRES_URL``;
defaults as in the test suite). About 4 minutes on 2 cores. Exits with 1 if any trial ended wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20261125, help="the kill plan's seed (default: the suite's)")
    parser.add_argument("--kills", type=int, default=20, help="trials (each has one planned kill, some two)")
    parser.add_argument("--rows", type=int, default=15_000, help="the dump's size: 12 x this many rows")
    parser.add_argument("--json", type=Path, help="also write every kill and trial here")
    parser.add_argument("--only", type=lambda v: {int(i) for i in v.split(",")}, help="run only these trials: 3,7")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (Airflow's logs)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="lightning-airflow-kills-"))
    # Before anything imports Airflow: never touch ~/airflow.
    os.environ.setdefault("AIRFLOW_HOME", str(work / "client-airflow"))
    from tests.airflow.services import drop_postgres_database, start_airflow_services
    from tests.airflow.test_kills import (
        DAG_ID,
        AirflowImport,
        KillTarget,
        drop_databases,
        import_reference,
        run_airflow_trial,
    )
    from tests.conftest import MySQLServer
    from tests.kill_scenario import TargetProbe, plan_kills, write_crash_dump

    url = urlsplit(os.environ.get("LIGHTNING_TEST_MYSQL_URL", "mysql://lightning:lightning@127.0.0.1:3306"))
    server = MySQLServer(
        url.hostname or "127.0.0.1", url.port or 3306, unquote(url.username or "root"), unquote(url.password or "")
    )
    started = time.monotonic()
    dump = write_crash_dump(work / "dump", rows=args.rows)
    reference, reference_info = f"lt_bkref_{uuid.uuid4().hex[:10]}", f"lt_bkrefinfo_{uuid.uuid4().hex[:8]}"
    import_reference(server, dump, work / "reference", reference, reference_info)
    services = start_airflow_services(
        work / "airflow",
        extra_env={"AIRFLOW_CONN_LIGHTNING_TARGET": server.url},
        dag_files=[REPO / "tests" / "airflow" / "dags" / "lightning_kill_test.py"],
    )
    print(f"dump: {dump.total_rows:,} rows in {len(dump.tables)} tables; services up in "
          f"{time.monotonic() - started:.0f}s; work folder {work}", flush=True)
    client = services.client()
    results = []
    try:
        services.wait_for_dag(client, DAG_ID)
        for plan in plan_kills(args.seed, args.kills):
            if args.only is not None and plan.index not in args.only:
                continue
            mysql_store = plan.checkpoint == "mysql"
            target = KillTarget(
                f"lt_bkill_{uuid.uuid4().hex[:10]}",
                f"lt_bkillinfo_{uuid.uuid4().hex[:8]}",
                checkpoint="mysql" if mysql_store else "airflow",
                checkpoint_schema=f"lt_bkillcp_{uuid.uuid4().hex[:8]}" if mysql_store else "",
            )
            run = AirflowImport(services, client, server, dump, target)
            probe = TargetProbe(server, target.db, target.info_schema, dump)
            try:
                result = run_airflow_trial(plan, run, probe, reference, args.seed)
            finally:
                probe.close()
                drop_databases(server, target.databases())
            results.append((target, result))
            print(_trial_line(target, result), flush=True)
            for kill in result.kills:
                print(f"      {_kill_line(kill)}", flush=True)
    finally:
        client.close()
        services.stop()
        drop_postgres_database(services)
        drop_databases(server, [reference, reference_info])
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    seconds = time.monotonic() - started
    print(_report(results, seconds))
    if args.json:
        args.json.write_text(json.dumps(_as_json(results, args, seconds), indent=2))
    return 0 if all(not r.problems for _, r in results) else 1


def _trial_line(target, result) -> str:
    plan = ", ".join(
        f"{p.kind} {p.fraction:.2f}" if p.kind == "rows" else f"{p.kind} +{p.delay:.2f}s" for p in result.plan.kills
    )
    verdict = "exact" if not result.problems else "WRONG: " + "; ".join(result.problems)
    return (
        f"trial {result.plan.index:2d} [{target.checkpoint:7s}] plan ({plan}): {len(result.kills)} kill(s), "
        f"cleared {result.cleared}, {result.state}, {result.seconds:.1f}s — {verdict}"
    )


def _kill_line(kill) -> str:
    where = f"{kill.task} try {kill.try_number}, {kill.seconds_after_trigger:.1f}s after the trigger"
    if kill.table is None:
        return f"{where}: {kill.state_after} (not a table's import)"
    lag = f"checkpoint store at {kill.checkpoint_rows:,} (lag {kill.checkpoint_lag:,})"
    return (
        f"{where}: {kill.table} at {kill.table_count:,}/{kill.table_total:,} rows "
        f"(markers {kill.committed_rows:,}), {lag}, task {kill.state_after}"
        + ("" if kill.mid_table else " — not mid-table")
    )


def _report(results, seconds: float) -> str:
    kills = [k for _, r in results for k in r.kills]
    landed = [k for k in kills if k.state_after == "failed"]
    mid = [k for k in landed if k.mid_table]
    tables = [k for k in landed if k.table is not None]
    untouched = [k for k in tables if k.table_count == 0]
    done = [k for k in tables if k.table_count == k.table_total]
    lagging = [k for k in tables if k.checkpoint_lag]
    by_store: dict[str, list] = {}
    for target, r in results:
        by_store.setdefault(target.checkpoint, []).extend(k for k in r.kills if k.table is not None)
    wrong = [r for _, r in results if r.problems]
    planned = sum(len(r.plan.kills) for _, r in results)
    lines = [
        "",
        (
            f"{len(results)} trials, {planned} planned kills, {len(kills)} SIGKILLs sent ({planned - len(kills)} "
            f"whose moment never came: the import, or the chosen task, was done first), {len(landed)} landed (the task instance failed)"
        ),
        (
            f"  {sum(k.log_says_sigkill for k in landed)} of them with the try's log (REST API) reporting the SIGKILL, "
            f"{sum(k.supervisor_survived for k in landed)} with the supervising LocalExecutor worker still alive"
        ),
        f"  {len(mid)} while the killed table was partly imported (0 < rows < total)",
        (
            f"  {len(untouched)} before the table had a row, {len(done)} after its last row was committed "
            f"(the table finishing), {len(landed) - len(tables)} in post_process"
        ),
        (
            f"  at {len(lagging)} the checkpoint store was behind the committed rows, by "
            f"{sum(k.checkpoint_lag for k in lagging):,} rows in all "
            f"(largest {max((k.checkpoint_lag for k in lagging), default=0):,})"
        ),
    ]
    for store, ks in sorted(by_store.items()):
        lag = [k for k in ks if k.checkpoint_lag]
        lines.append(
            f"    {store:7s} store: {len(ks)} table kills, {len(lag)} lagging, {sum(k.checkpoint_lag for k in lag):,} rows"
        )
    per_trial = sum(r.seconds for _, r in results) / max(1, len(results))
    lines += [
        f"  {sum(len(r.cleared) for _, r in results)} Clears through the REST API",
        (
            f"{len(results) - len(wrong)} of {len(results)} runs ended with every table exactly equal to the "
            f"source; {seconds:.0f}s in all ({per_trial:.1f}s per trial from trigger to success)"
        ),
    ]
    return "\n".join(lines)


def _as_json(results, args, seconds: float) -> dict:
    return {
        "seed": args.seed,
        "rows": args.rows,
        "seconds": round(seconds, 1),
        "trials": [
            {
                "index": r.plan.index,
                "checkpoint": target.checkpoint,
                "plan": [{"kind": p.kind, "fraction": p.fraction, "delay": p.delay} for p in r.plan.kills],
                "run_id": r.run_id,
                "state": r.state,
                "cleared": r.cleared,
                "seconds": round(r.seconds, 1),
                "problems": r.problems,
                "kills": [
                    {
                        "task": k.task, "try": k.try_number, "table": k.table, "seconds": round(k.seconds_after_trigger, 2),
                        "state_after": k.state_after, "log_says_sigkill": k.log_says_sigkill,
                        "supervisor_survived": k.supervisor_survived, "table_count": k.table_count, "table_total": k.table_total,
                        "markers": k.committed_rows, "checkpoint_rows": k.checkpoint_rows, "mid_table": k.mid_table,
                    }
                    for k in r.kills
                ],
            }
            for target, r in results
        ],
    }


if __name__ == "__main__":
    sys.exit(main())
