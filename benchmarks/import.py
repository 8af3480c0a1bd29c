"""Import throughput against the usual loaders, in one run on the same server and the same dump.

    .venv/bin/python benchmarks/import.py --size-mb 1024 --repeat 2

Loaders, each into a fresh database, alternating, ``--repeat`` rounds:
- ``lightning``: this project's ``lightning import`` (logical backend);
- ``myloader -t 2`` and ``myloader`` (default 4 threads);
- ``mariadb < dump.sql``: the dump's statements through the client, one session;
- ``LOAD DATA LOCAL INFILE`` of the same rows as CSV, through the client.
For each: seconds, MB/s of SQL source, ratio to lightning, client CPU seconds, server CPU seconds, and the
loader's peak RSS. Server settings are whatever the server has; every loader sees the same ones.
Also times lightning with ``[post-restore] checksum = "off"`` to show what the checksum costs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parse import ensure_sbtest_dump  # noqa: E402 - the shared generated dump


OUT = Path(__file__).resolve().parent / "out"
VENV_BIN = Path(sys.executable).parent


@dataclass
class Run:
    loader: str
    seconds: float
    client_cpu: float
    server_cpu: float
    peak_rss_mib: float


def _server_process() -> psutil.Process:
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("mariadbd", "mysqld"):
            return proc
    raise SystemExit("no mariadbd process found on this machine")


def _connect(args) -> pymysql.connections.Connection:
    return pymysql.connect(host=args.host, port=args.port, user=args.user, password=args.password, autocommit=True)


def _fresh_db(args, name: str) -> None:
    conn = _connect(args)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")
    conn.close()


def _drop_db(args, name: str) -> None:
    conn = _connect(args)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def _measure(loader: str, command: list[str], server: psutil.Process, *, stdin_files: list[Path] | None = None,
             env: dict | None = None) -> Run:
    before = server.cpu_times()
    start = time.perf_counter()
    stdin = subprocess.PIPE if stdin_files else subprocess.DEVNULL
    proc = subprocess.Popen(command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    ps = psutil.Process(proc.pid)
    peak = [0.0]
    cpu = [0.0]

    def watch() -> None:
        while proc.poll() is None:
            try:
                peak[0] = max(peak[0], ps.memory_info().rss / 2**20)
                times = ps.cpu_times()
                cpu[0] = times.user + times.system + times.children_user + times.children_system
            except psutil.Error:
                break
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    if stdin_files:
        for f in stdin_files:
            with open(f, "rb") as src:
                shutil.copyfileobj(src, proc.stdin, 1 << 20)
        proc.stdin.close()
    err = proc.stderr.read()  # (stdin, if any, is closed: communicate() would try to flush it)
    proc.wait()
    seconds = time.perf_counter() - start
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{loader} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    after = server.cpu_times()
    server_cpu = (after.user + after.system) - (before.user + before.system)
    return Run(loader, seconds, cpu[0], server_cpu, peak[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3306)
    parser.add_argument("--user", default="lightning")
    parser.add_argument("--password", default="lightning")
    parser.add_argument("--only", nargs="*", help="run only these loaders")
    args = parser.parse_args()

    rows = args.size_mb * 1024 * 1024 // 190
    sql_dir = ensure_sbtest_dump(args.size_mb, "sql")
    csv_dir = ensure_sbtest_dump(args.size_mb, "csv")
    sql_files = sorted(sql_dir.glob("bench.sbtest.*.sql"))
    csv_files = sorted(csv_dir.glob("bench.sbtest.*.csv"))
    schema_sql = (sql_dir / "bench.sbtest-schema.sql").read_text()
    source_mb = sum(f.stat().st_size for f in sql_files) / 2**20
    print(f"source: {source_mb:.0f} MiB of SQL in {len(sql_files)} files, {rows:,} rows", flush=True)

    server = _server_process()
    work = Path(tempfile.mkdtemp(prefix="lightning-bench-"))
    auth = ["-h", args.host, "-P", str(args.port), "-u", args.user, f"-p{args.password}"]
    myauth = ["-h", args.host, "-P", str(args.port), "-u", args.user, "-p", args.password]
    target = f"mysql://{args.user}:{args.password}@{args.host}:{args.port}"

    def lightning(checksum: str):
        def run() -> Run:
            _drop_db(args, "bench_lightning")
            config = work / f"lightning-{checksum}.toml"
            config.write_text(
                f"[mydumper]\ndata-source-dir = '{sql_dir}'\n[[routes]]\nschema-pattern = 'bench'\n"
                f"target-schema = 'bench_lightning'\n[checkpoint]\ndsn = '{work / 'cp.json'}'\n"
                f"[post-restore]\nchecksum = '{checksum}'\nanalyze = 'off'\n"
            )
            return _measure(
                "lightning" if checksum == "required" else "lightning, checksum off",
                [str(VENV_BIN / "lightning"), "import", "-c", str(config), "--target", target, "--no-progress"],
                server,
            )
        return run

    def myloader(threads: int | None):
        def run() -> Run:
            _drop_db(args, "bench_myloader")
            cmd = ["myloader", *myauth, "-d", str(sql_dir), "-B", "bench_myloader", "-o"]
            if threads:
                cmd += ["-t", str(threads)]
            return _measure(f"myloader -t {threads}" if threads else "myloader (4 threads)", cmd, server)
        return run

    def client_sql() -> Run:
        _fresh_db(args, "bench_client")
        schema = work / "schema.sql"
        schema.write_text(schema_sql)
        return _measure("mariadb < dump.sql", ["mariadb", *auth, "bench_client"], server,
                        stdin_files=[schema, *sql_files])

    def load_data() -> Run:
        _fresh_db(args, "bench_loaddata")
        conn = _connect(args)
        with conn.cursor() as cur:
            cur.execute("USE bench_loaddata")
            cur.execute(schema_sql.split("*/;\n")[-1].strip().rstrip(";"))
        conn.close()
        statements = "".join(
            f"LOAD DATA LOCAL INFILE '{f}' INTO TABLE sbtest FIELDS TERMINATED BY ',' ENCLOSED BY '\"' "
            "ESCAPED BY '\\\\' LINES TERMINATED BY '\\n';" for f in csv_files
        )
        return _measure("LOAD DATA LOCAL INFILE (csv)",
                        ["mariadb", *auth, "--local-infile=1", "bench_loaddata", "-e", statements], server)

    loaders = {
        "lightning": lightning("required"),
        "lightning-nochecksum": lightning("off"),
        "myloader-2": myloader(2),
        "myloader": myloader(None),
        "client": client_sql,
        "loaddata": load_data,
    }
    if args.only:
        loaders = {k: v for k, v in loaders.items() if k in args.only}
    results: dict[str, list[Run]] = {}
    for round_ in range(args.repeat):
        for name, run in loaders.items():
            r = run()
            results.setdefault(name, []).append(r)
            print(f"round {round_ + 1}: {r.loader:<30} {r.seconds:7.1f} s  {source_mb / r.seconds:6.1f} MB/s  "
                  f"client cpu {r.client_cpu:6.1f} s  server cpu {r.server_cpu:6.1f} s  peak rss {r.peak_rss_mib:6.0f} MiB",
                  flush=True)
    for db in ("bench_lightning", "bench_myloader", "bench_client", "bench_loaddata"):
        _drop_db(args, db)
    shutil.rmtree(work, ignore_errors=True)

    best = {name: min(runs, key=lambda r: r.seconds) for name, runs in results.items()}
    ours = best.get("lightning")
    print("\n| loader | best s | median s | MB/s | vs lightning | client CPU s | server CPU s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in best.items():
        median = statistics.median(x.seconds for x in results[name])
        ratio = f"{ours.seconds / r.seconds:.2f}x" if ours else "-"
        print(f"| {r.loader} | {r.seconds:.1f} | {median:.1f} | {source_mb / r.seconds:.1f} | {ratio} | "
              f"{r.client_cpu:.1f} | {r.server_cpu:.1f} | {r.peak_rss_mib:.0f} |")
    print("(vs lightning: lightning's time / the loader's time; above 1 means the loader was faster)")
    os.sync()


if __name__ == "__main__":
    main()
