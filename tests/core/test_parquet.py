"""Parquet data files: read by row group, imported equal to their rows, locally, from S3, and resumed."""

from __future__ import annotations

import datetime
import decimal
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_lightning.core.checkpoints.file_store import FileCheckpointStore
from airflow_provider_lightning.core.checkpoints.store import MemoryCheckpointStore
from airflow_provider_lightning.core.config import load_config
from airflow_provider_lightning.core.ctl import error_ignore
from airflow_provider_lightning.core.errors import SourceError
from airflow_provider_lightning.core.failpoints import ENV_VAR, InjectedFault
from airflow_provider_lightning.core.importer.steps import run_import
from airflow_provider_lightning.core.mydump.parquet_parser import ParquetParser
from airflow_provider_lightning.core.mydump.values import Number

SCHEMA = (
    "CREATE TABLE `events` (`id` bigint NOT NULL PRIMARY KEY, `name` varchar(40), `price` decimal(10,2), "
    "`ratio` double, `seen` datetime(6), `day` date, `ok` tinyint(1), `blob` varbinary(16));\n"
)


def _table(rows: int) -> pa.Table:
    return pa.table({
        "id": pa.array(range(1, rows + 1), pa.int64()),
        "name": pa.array([None if i % 9 == 0 else f"name {i} ünï 😀 'q'" for i in range(rows)]),
        "price": pa.array([decimal.Decimal(i) / 100 for i in range(rows)], pa.decimal128(10, 2)),
        "ratio": pa.array([i / 7 for i in range(rows)], pa.float64()),
        "seen": pa.array([datetime.datetime(2025, 1, 1) + datetime.timedelta(seconds=i, microseconds=i)
                          for i in range(rows)], pa.timestamp("us")),
        "day": pa.array([datetime.date(2024, 1, 1) + datetime.timedelta(days=i % 400) for i in range(rows)]),
        "ok": pa.array([i % 2 == 0 for i in range(rows)]),
        "blob": pa.array([bytes([i % 256, 0, 255]) for i in range(rows)], pa.binary()),
    })


def _dump(tmp_path, rows: int = 5000):
    out = tmp_path / "pq"
    out.mkdir()
    (out / "src.events-schema.sql").write_text(SCHEMA)
    pq.write_table(_table(rows), out / "src.events.000000001.parquet", row_group_size=1000)
    return out


def _config(source, db, server, **extra):
    data = {
        "mydumper": {"data-source-dir": str(source)},
        "tidb": {"host": server.host, "port": server.port, "user": server.user, "password": server.password},
        "routes": [{"schema-pattern": "src", "target-schema": db}],
    }
    for section, values in extra.items():
        data.setdefault(section.replace("_", "-"), {}).update(values)
    return load_config(data=data)


def test_parquet_values_become_what_a_dump_would_carry(tmp_path):
    path = _dump(tmp_path, rows=3) / "src.events.000000001.parquet"
    with open(path, "rb") as f:
        rows = list(ParquetParser(f, path=path.name).iter_rows())
    values, position = rows[1]
    assert position == 2
    assert [type(v) for v in values] == [Number, bytes, Number, Number, bytes, bytes, Number, bytes]
    assert values == [
        b"2", "name 1 ünï 😀 'q'".encode(), b"0.01", repr(1 / 7).encode(), b"2025-01-01 00:00:01.000001",
        b"2024-01-02", b"0", b"\x01\x00\xff",
    ]
    assert float(values[3]) == 1 / 7  # the shortest text that reads back as the same double
    assert rows[0][0][1] is None


def test_a_parser_started_at_a_row_number_yields_exactly_the_rest(tmp_path):
    path = _dump(tmp_path, rows=2500) / "src.events.000000001.parquet"
    with open(path, "rb") as f:
        everything = [v for v, _ in ParquetParser(f, path=path.name).iter_rows()]
    with open(path, "rb") as f:
        rest = list(ParquetParser(f, path=path.name, start_row=1234).iter_rows())
    assert [v for v, _ in rest] == everything[1234:]
    assert rest[0][1] == 1235


def test_a_file_that_is_not_parquet_is_a_clear_source_error(tmp_path):
    bad = tmp_path / "x.parquet"
    bad.write_bytes(b"PAR1 but not really")
    with open(bad, "rb") as f, pytest.raises(SourceError, match="not a readable Parquet file"):
        ParquetParser(f, path="x.parquet")


def test_a_parquet_file_arrives_equal_and_checksummed(mysql_server, fresh_database, tmp_path):
    summary = run_import(_config(_dump(tmp_path), fresh_database, mysql_server), MemoryCheckpointStore())

    assert [p.checksum for p in summary.post] == ["ok"]
    conn = mysql_server.connect(fresh_database, charset="utf8mb4")
    with conn.cursor() as cur:
        cur.execute("SELECT id, name, price, ratio, seen, `day`, ok, `blob` FROM events ORDER BY id")
        held = list(cur.fetchall())
    conn.close()
    source = _table(5000).to_pylist()
    expected = [
        (r["id"], r["name"], r["price"], r["ratio"], r["seen"], r["day"], int(r["ok"]), r["blob"]) for r in source
    ]
    assert held == expected  # every column of every row; doubles compared as the exact same float


def test_a_parquet_file_on_s3_is_read_by_ranges(mysql_server, fresh_database, tmp_path, s3_server):
    local = _dump(tmp_path, rows=1200)
    bucket = s3_server.make_bucket()
    s3_server.upload_dir(local, bucket, "pq")
    source = (f"s3://{bucket}/pq?endpoint={s3_server.endpoint_url}&access-key={s3_server.access_key}"
              f"&secret-access-key={s3_server.secret_key}&region={s3_server.region}")
    summary = run_import(_config(source, fresh_database, mysql_server), MemoryCheckpointStore())

    assert [(t.rows, p.checksum) for t, p in zip(summary.tables, summary.post)] == [(1200, "ok")]


def test_a_parquet_import_that_failed_midway_resumes_without_resending_rows(
    mysql_server, fresh_database, tmp_path, monkeypatch
):
    source = _dump(tmp_path)
    failpoints = tmp_path / "fp.json"
    failpoints.write_text(json.dumps({"fail-after-batches": {"table": f"`{fresh_database}`.`events`", "batches": 2}}))
    monkeypatch.setenv(ENV_VAR, str(failpoints))
    config = _config(source, fresh_database, mysql_server,
                     tikv_importer={"logical-import-batch-rows": 700}, checkpoint={"keep-after-success": "origin"})
    with pytest.raises(InjectedFault):
        run_import(config, FileCheckpointStore(tmp_path / "cp.json"))
    conn = mysql_server.connect(fresh_database)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM events")
        assert cur.fetchone()[0] == 1400
    conn.close()

    error_ignore(FileCheckpointStore(tmp_path / "cp.json"), "all")
    summary = run_import(config, FileCheckpointStore(tmp_path / "cp.json"))

    assert summary.tables[0].rows == 5000
    assert summary.tables[0].rows_written == 3600
    assert [p.checksum for p in summary.post] == ["ok"]
