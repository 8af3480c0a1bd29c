"""Parse throughput: MB/s of source for the SQL and CSV parsers on a generated dump.

    .venv/bin/python benchmarks/parse.py --size-mb 1024

Generates (once, cached under benchmarks/out/) a sysbench-like table in mydumper's SQL layout and the
same rows as Lightning-style CSV, then times, each in a fresh process-free loop:
- SQL rows as raw tuples (the logical backend's fast path),
- SQL rows decoded into values (what the checksum needs),
- CSV rows decoded into values.
Reports MB/s of source bytes and rows/s; CPU time, best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from airflow_provider_lightning.core.mydump.csv_parser import CsvDialect, CsvParser
from airflow_provider_lightning.core.mydump.sql_parser import SqlParser
from airflow_provider_lightning.core.sample import write_sbtest_dump

OUT = Path(__file__).resolve().parent / "out"


def ensure_sbtest_dump(size_mb: int, fmt: str) -> Path:
    """The generated sysbench-like dump of about ``size_mb`` MB (made once, shared with import.py)."""
    rows = size_mb * 1024 * 1024 // 190  # an sbtest row is about 190 bytes of SQL
    folder = OUT / f"sbtest-{fmt}-{size_mb}mb"
    marker = folder / ".complete"
    if not marker.exists():
        print(f"generating {size_mb} MB of {fmt.upper()} ({rows:,} rows) into {folder} ...", flush=True)
        write_sbtest_dump(folder, rows=rows, files=max(2, size_mb // 64), fmt=fmt)
        (folder / "metadata").write_text("Started dump at: 2026-01-01 00:00:00\nFinished dump at: 2026-01-01 00:00:01\n")
        marker.write_text("ok")
    return folder


def _time(label: str, files: list[Path], run) -> None:
    size = sum(f.stat().st_size for f in files)
    start_cpu, start = time.process_time(), time.perf_counter()
    rows = 0
    for f in files:
        with open(f, "rb", buffering=0) as stream:
            rows += run(stream, f.name)
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
    print(
        f"{label:<28} {size / 2**20 / cpu:8.1f} MB/s (cpu)  {size / 2**20 / wall:8.1f} MB/s (wall)  "
        f"{rows / cpu:>12,.0f} rows/s  {rows:,} rows",
        flush=True,
    )


def _sql_raw(stream, name: str) -> int:
    return sum(1 for _ in SqlParser(stream, path=name).iter_raw_rows())


def _sql_values(stream, name: str) -> int:
    return sum(1 for _ in SqlParser(stream, path=name).iter_rows())


def _csv_values(stream, name: str) -> int:
    return sum(1 for _ in CsvParser(stream, CsvDialect(header=False), path=name).iter_rows())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    sql_files = sorted(ensure_sbtest_dump(args.size_mb, "sql").glob("*.sbtest*.sql"))
    csv_files = sorted(ensure_sbtest_dump(args.size_mb, "csv").glob("*.sbtest*.csv"))
    for _ in range(args.repeat):
        _time("SQL, raw tuples", sql_files, _sql_raw)
        _time("SQL, decoded values", sql_files, _sql_values)
        _time("CSV, decoded values", csv_files, _csv_values)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
