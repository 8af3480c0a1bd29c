"""Whole imports into a real MariaDB: real dumps in, tables equal to their originals out."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from airflow_provider_lightning.core.checkpoints.file_store import FileCheckpointStore
from airflow_provider_lightning.core.checkpoints.model import CheckpointStatus
from airflow_provider_lightning.core.checkpoints.store import MemoryCheckpointStore
from airflow_provider_lightning.core.config import load_config
from airflow_provider_lightning.core.errors import ChecksumMismatch, LightningError, PrecheckFailed
from airflow_provider_lightning.core.importer.steps import run_import
from tests.conftest import run_mydumper

ALL_TYPES_DDL = """
CREATE TABLE all_types (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, bi BIGINT, bu BIGINT UNSIGNED,
  d DECIMAL(20,6), f FLOAT, dd DOUBLE,
  c CHAR(10), vc VARCHAR(100), tx TEXT, bl BLOB, bn BINARY(4), vb VARBINARY(10),
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(2), y YEAR,
  e ENUM('a','b','c d'), st SET('x','y','z'), bt BIT(12), j JSON
) DEFAULT CHARSET=utf8mb4
"""

ALL_TYPES_ROWS = [
    "(1, -128, 255, -32768, -8388608, -9223372036854775808, 18446744073709551615, -12345678901234.123456, "
    "1.5e-7, 3.141592653589793, 'ab  ', 'O''Reilly \\\\ \"q\" \\n\\t end', 'emoji 😀 ünï', X'00FF0A0D275C22', "
    "X'01', X'DEADBEEF', '2020-02-29', '2020-01-02 03:04:05.678901', '2021-06-01 12:00:00.5', '-838:59:59', "
    "2155, 'c d', 'x,z', b'101010101011', '{\"a\": [1, \"x\\\\\"y\"]}')",
    "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "(3, 127, 0, 32767, 8388607, 9223372036854775807, 0, 0.000001, -3.4e38, -1.7976931348623157e308, '', '', "
    "'', '', X'', X'', '1000-01-01', '9999-12-31 23:59:59.999999', '1970-01-02 00:00:00.001', '00:00:00.01', "
    "1901, 'a', '', b'0', '[]')",
    "(4, 0, 1, 0, 0, 0, 1, -0.5, 0, 0, 'x', 'semi;colon, comma', 'line1\\r\\nline2', X'5C', X'27', X'22', "
    "'2000-01-01', '2000-01-01 00:00:00', '2038-01-19 03:14:07.999', '838:59:59', 2000, 'b', 'y', b'1', 'null')",
]


@pytest.fixture(scope="module")
def source_db(mysql_server):
    """A source database with every common type, a table without a key, a big table, a view."""
    import uuid

    name = f"lt_src_{uuid.uuid4().hex[:10]}"
    conn = mysql_server.connect(charset="utf8mb4")
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` DEFAULT CHARACTER SET utf8mb4")
        cur.execute(f"USE `{name}`")
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(ALL_TYPES_DDL)
        cur.execute("INSERT INTO all_types VALUES " + ",".join(ALL_TYPES_ROWS))
        cur.execute("CREATE TABLE nokey (a INT, b VARCHAR(20), c DOUBLE)")
        cur.execute("INSERT INTO nokey VALUES (1,'x',0.1),(1,'x',0.1),(NULL,NULL,NULL),(2,'',-0.0)")
        cur.execute("CREATE TABLE big (id INT PRIMARY KEY, k INT, s VARCHAR(64), KEY (k))")
        cur.execute(
            "INSERT INTO big SELECT seq, seq % 97, CONCAT('row-', seq, REPEAT('x', seq % 40)) FROM seq_1_to_3000"
        )
        cur.execute("CREATE TABLE `表_ü` (id INT PRIMARY KEY, label VARCHAR(20))")
        cur.execute("INSERT INTO `表_ü` VALUES (1, '一'), (2, 'zwei')")
        cur.execute("CREATE VIEW v_big AS SELECT id, k FROM big WHERE k = 1")
    conn.close()
    yield name
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


@pytest.fixture(scope="module")
def mydumper_dir(mysql_server, source_db, tmp_path_factory):
    # -r splits tables with an integer key into files of at most that many rows.
    return run_mydumper(mysql_server, source_db, tmp_path_factory.mktemp("dump") / "out", "-r", "1000")


def _config(source: Path, target_db: str, server, source_db: str, **extra) -> object:
    data = {
        "mydumper": {"data-source-dir": str(source)},
        "tidb": {"host": server.host, "port": server.port, "user": server.user, "password": server.password},
        "routes": [{"schema-pattern": source_db, "target-schema": target_db}],
        "lightning": {"region-concurrency": 2, "table-concurrency": 2},
    }
    for section, values in extra.items():
        data.setdefault(section.replace("_", "-"), {}).update(values)
    return load_config(data=data)


def _checksum_table(server, db: str, table: str) -> int:
    conn = server.connect()
    with conn.cursor() as cur:
        cur.execute(f"CHECKSUM TABLE `{db}`.`{table}` EXTENDED")
        value = cur.fetchone()[1]
    conn.close()
    return value


def _rows(server, db: str, table: str, order: str) -> list[tuple]:
    conn = server.connect(charset="utf8mb4", use_unicode=False, conv={})
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(f"SELECT * FROM `{db}`.`{table}` ORDER BY {order}")
        rows = list(cur.fetchall())
    conn.close()
    return rows


def test_a_mydumper_dump_arrives_equal_to_its_source(mysql_server, source_db, mydumper_dir, fresh_database):
    config = _config(mydumper_dir, fresh_database, mysql_server, source_db)
    summary = run_import(config, MemoryCheckpointStore())

    for table in ("all_types", "nokey", "big", "表_ü"):
        assert _checksum_table(mysql_server, fresh_database, table) == _checksum_table(mysql_server, source_db, table)
    assert _rows(mysql_server, fresh_database, "all_types", "id") == _rows(mysql_server, source_db, "all_types", "id")
    assert sorted(_rows(mysql_server, fresh_database, "nokey", "1"), key=repr) == sorted(
        _rows(mysql_server, source_db, "nokey", "1"), key=repr
    )
    assert {p.table: p.checksum for p in summary.post} == {
        f"`{fresh_database}`.`{t}`": "ok" for t in ("all_types", "big", "nokey", "表_ü")
    }
    assert sum(t.rows for t in summary.tables) == 4 + 4 + 3000 + 2
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM `{fresh_database}`.`v_big`")
        assert cur.fetchone()[0] == len([i for i in range(1, 3001) if i % 97 == 1])
    conn.close()


def test_a_table_split_over_several_files_is_imported_from_all_of_them(mydumper_dir):
    assert len(list(mydumper_dir.glob("*.big.*.sql"))) >= 3


def test_csv_files_written_by_the_server_arrive_equal(mysql_server, source_db, fresh_database, tmp_path):
    out = tmp_path / "csv"
    out.mkdir()
    shutil.chmod = None  # noqa: B010 - no-op guard against accidental use
    server_dir = Path("/tmp") / f"lt_outfile_{fresh_database}"
    server_dir.mkdir(mode=0o777)
    server_dir.chmod(0o777)
    try:
        conn = mysql_server.connect()
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            for table in ("all_types", "nokey", "big"):
                cur.execute(
                    f"SELECT * INTO OUTFILE '{server_dir}/{source_db}.{table}.csv' "
                    "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                    f"FROM `{source_db}`.`{table}`"
                )
        conn.close()
        for f in server_dir.iterdir():
            shutil.copy(f, out / f.name)
    finally:
        shutil.rmtree(server_dir, ignore_errors=True)
    # schema files from a SQL dump of the same tables
    dump = run_mydumper(mysql_server, source_db, tmp_path / "schema", "--no-data", "-T", "all_types,nokey,big")
    for f in dump.glob("*-schema*.sql"):
        shutil.copy(f, out / f.name)
    config = _config(
        out, fresh_database, mysql_server, source_db,
        mydumper={"csv": {"header": False}},
        tidb={"session-vars": {"time_zone": "+00:00"}},
    )
    summary = run_import(config, MemoryCheckpointStore())

    for table in ("all_types", "nokey", "big"):
        assert _checksum_table(mysql_server, fresh_database, table) == _checksum_table(mysql_server, source_db, table)
    assert all(p.checksum == "ok" for p in summary.post)


def test_a_mysqldump_file_is_imported(mysql_server, source_db, fresh_database, tmp_path):
    out = tmp_path / "md"
    out.mkdir()
    auth = ["-h", mysql_server.host, "-P", str(mysql_server.port), "-u", mysql_server.user, f"-p{mysql_server.password}"]
    schema = subprocess.run(
        ["mysqldump", *auth, "--no-data", "--skip-comments", source_db, "big"], check=True, capture_output=True
    ).stdout
    data = subprocess.run(
        ["mysqldump", *auth, "--no-create-info", "--extended-insert", "--net-buffer-length=4096", source_db, "big"],
        check=True,
        capture_output=True,
    ).stdout
    (out / f"{source_db}.big-schema.sql").write_bytes(schema)
    (out / f"{source_db}.big.000000001.sql").write_bytes(data)
    config = _config(out, fresh_database, mysql_server, source_db)
    run_import(config, MemoryCheckpointStore())

    assert _checksum_table(mysql_server, fresh_database, "big") == _checksum_table(mysql_server, source_db, "big")


def test_a_layout_routed_by_mydumper_files_rules_is_imported(mysql_server, mydumper_dir, source_db, fresh_database, tmp_path):
    out = tmp_path / "custom"
    for f in mydumper_dir.glob(f"{source_db}.big*.sql"):
        kind = "schema" if f.name.endswith("-schema.sql") else "data"
        dest = out / "exports" / "big" / kind / f.name.replace(f"{source_db}.", "part-")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
    data = {
        "mydumper": {
            "data-source-dir": str(out),
            "files": [
                {"pattern": r"^exports/(\w+)/schema/.*\.sql$", "schema": fresh_database, "table": "$1", "type": "table-schema"},
                {"pattern": r"^exports/(\w+)/data/part-\w+\.(\d+)\.sql$", "schema": fresh_database, "table": "$1", "type": "sql", "key": "$2"},
            ],
        },
        "tidb": {"host": mysql_server.host, "port": mysql_server.port, "user": mysql_server.user, "password": mysql_server.password},
    }
    summary = run_import(load_config(data=data), MemoryCheckpointStore())

    assert [t.rows for t in summary.tables] == [3000]
    assert _checksum_table(mysql_server, fresh_database, "big") == _checksum_table(mysql_server, source_db, "big")


# --- conflicts -------------------------------------------------------------------------------------------


def _conflict_dump(tmp_path: Path) -> Path:
    out = tmp_path / "conflict"
    out.mkdir()
    (out / "src.kv-schema.sql").write_text("CREATE TABLE `kv` (`id` int NOT NULL PRIMARY KEY, `v` varchar(10)) ;\n")
    (out / "src.kv.sql").write_text("INSERT INTO `kv` VALUES (1,'new1'),(2,'new2'),(3,'new3'),(4,'new4');\n")
    return out


def _prefill(server, db: str) -> None:
    conn = server.connect(db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE kv (id int NOT NULL PRIMARY KEY, v varchar(10))")
        cur.execute("INSERT INTO kv VALUES (2, 'old2'), (4, 'old4'), (9, 'old9')")
    conn.close()


def _kv(server, db: str) -> dict[int, str]:
    conn = server.connect(db)
    with conn.cursor() as cur:
        cur.execute("SELECT id, v FROM kv")
        rows = dict(cur.fetchall())
    conn.close()
    return rows


def test_conflict_strategy_error_is_stopped_by_the_precheck_for_a_non_empty_table(mysql_server, fresh_database, tmp_path):
    _prefill(mysql_server, fresh_database)
    config = _config(_conflict_dump(tmp_path), fresh_database, mysql_server, "src")
    with pytest.raises(PrecheckFailed, match="already hold rows"):
        run_import(config, MemoryCheckpointStore())


def test_conflict_strategy_error_names_the_duplicate_key(mysql_server, fresh_database, tmp_path):
    _prefill(mysql_server, fresh_database)
    config = _config(
        _conflict_dump(tmp_path), fresh_database, mysql_server, "src", lightning={"check-requirements": False}
    )
    with pytest.raises(LightningError, match=r"Duplicate entry '2' for key 'PRIMARY'"):
        run_import(config, MemoryCheckpointStore())


def test_conflict_strategy_replace_keeps_the_new_rows(mysql_server, fresh_database, tmp_path):
    _prefill(mysql_server, fresh_database)
    config = _config(_conflict_dump(tmp_path), fresh_database, mysql_server, "src", conflict={"strategy": "replace"})
    summary = run_import(config, MemoryCheckpointStore())

    assert _kv(mysql_server, fresh_database) == {1: "new1", 2: "new2", 3: "new3", 4: "new4", 9: "old9"}
    assert summary.errors[f"`{fresh_database}`.`kv`"]["conflict"] == 2


def test_conflict_strategy_ignore_keeps_the_existing_rows(mysql_server, fresh_database, tmp_path):
    _prefill(mysql_server, fresh_database)
    config = _config(_conflict_dump(tmp_path), fresh_database, mysql_server, "src", conflict={"strategy": "ignore"})
    summary = run_import(config, MemoryCheckpointStore())

    assert _kv(mysql_server, fresh_database) == {1: "new1", 2: "old2", 3: "new3", 4: "old4", 9: "old9"}
    assert summary.errors[f"`{fresh_database}`.`kv`"]["conflict"] == 2


def test_duplicates_inside_the_source_are_accounted_for_under_replace(mysql_server, fresh_database, tmp_path):
    out = tmp_path / "dups"
    out.mkdir()
    (out / "src.kv-schema.sql").write_text("CREATE TABLE `kv` (`id` int NOT NULL PRIMARY KEY, `v` varchar(10));\n")
    (out / "src.kv.sql").write_text("INSERT INTO `kv` VALUES (1,'a'),(2,'b'),(1,'c'),(3,'d'),(2,'e');\n")
    config = _config(out, fresh_database, mysql_server, "src", conflict={"strategy": "replace"})
    summary = run_import(config, MemoryCheckpointStore())

    assert _kv(mysql_server, fresh_database) == {1: "c", 2: "e", 3: "d"}
    assert [p.checksum for p in summary.post] == ["ok"]


# --- bad input and checkpoints ---------------------------------------------------------------------------


def test_a_bad_value_goes_to_the_type_error_table_within_max_error(mysql_server, fresh_database, tmp_path):
    out = tmp_path / "bad"
    out.mkdir()
    (out / "src.t-schema.sql").write_text("CREATE TABLE `t` (`id` int NOT NULL PRIMARY KEY, `n` tinyint);\n")
    (out / "src.t.sql").write_text("INSERT INTO `t` VALUES (1,1),(2,300),(3,3);\n")
    config = _config(out, fresh_database, mysql_server, "src", lightning={"max-error": 1})
    summary = run_import(config, MemoryCheckpointStore())

    conn = mysql_server.connect(fresh_database)
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM t ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == [1, 3]
        cur.execute("SELECT path, row_data FROM lightning_task_info.type_error_v1 WHERE table_name = %s",
                    (f"`{fresh_database}`.`t`",))
        assert cur.fetchall() == (("src.t.sql", "(2,300)"),)
    conn.close()
    assert [p.checksum for p in summary.post] == ["ok"]
    assert summary.errors[f"`{fresh_database}`.`t`"] == {"type": 1}


def test_a_bad_value_beyond_max_error_fails_the_table_naming_the_file(mysql_server, fresh_database, tmp_path):
    out = tmp_path / "bad0"
    out.mkdir()
    (out / "src.t-schema.sql").write_text("CREATE TABLE `t` (`id` int NOT NULL PRIMARY KEY, `n` tinyint);\n")
    (out / "src.t.sql").write_text("INSERT INTO `t` VALUES (1,1),(2,300),(3,3);\n")
    config = _config(out, fresh_database, mysql_server, "src")
    with pytest.raises(LightningError, match=r"src\.t\.sql.*max-error"):
        run_import(config, MemoryCheckpointStore())


def test_a_checksum_mismatch_fails_the_table_with_both_values(mysql_server, fresh_database, tmp_path):
    out = tmp_path / "trunc"
    out.mkdir()
    (out / "src.t-schema.sql").write_text("CREATE TABLE `t` (`id` int NOT NULL PRIMARY KEY, `f` float);\n")
    (out / "src.t.sql").write_text("INSERT INTO `t` VALUES (1,0.1);\n")
    # A trigger changes what is stored: the kind of silent change a checksum exists to catch.
    conn = mysql_server.connect(fresh_database)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int NOT NULL PRIMARY KEY, f float)")
        cur.execute("CREATE TRIGGER bump BEFORE INSERT ON t FOR EACH ROW SET NEW.f = NEW.f + 1")
    conn.close()
    config = _config(out, fresh_database, mysql_server, "src")
    with pytest.raises(ChecksumMismatch, match="checksum"):
        run_import(config, MemoryCheckpointStore())


def test_a_changed_input_is_refused_on_resume_not_skipped(mysql_server, fresh_database, tmp_path):
    out = _conflict_dump(tmp_path)
    store = FileCheckpointStore(tmp_path / "cp.json")
    config = _config(out, fresh_database, mysql_server, "src", checkpoint={"keep-after-success": "origin"})
    run_import(config, store)
    (out / "src.kv.sql").write_text("INSERT INTO `kv` VALUES (5,'five');\n")
    with pytest.raises(LightningError, match="changed since its checkpoint"):
        run_import(config, FileCheckpointStore(tmp_path / "cp.json"))


def test_a_successful_import_removes_its_checkpoints(mysql_server, fresh_database, tmp_path):
    store = FileCheckpointStore(tmp_path / "cp.json")
    run_import(_config(_conflict_dump(tmp_path), fresh_database, mysql_server, "src"), store)
    assert FileCheckpointStore(tmp_path / "cp.json").get_task() is None


def test_keep_after_success_origin_keeps_finished_checkpoints(mysql_server, fresh_database, tmp_path):
    config = _config(
        _conflict_dump(tmp_path), fresh_database, mysql_server, "src", checkpoint={"keep-after-success": "origin"}
    )
    run_import(config, FileCheckpointStore(tmp_path / "cp.json"))
    table = FileCheckpointStore(tmp_path / "cp.json").get_table(f"`{fresh_database}`.`kv`")
    assert table.status >= CheckpointStatus.CHECKSUMMED
    assert all(c.finished for c in table.chunks)


def test_a_large_csv_file_under_strict_format_is_split_into_chunks_and_arrives_whole(
    mysql_server, fresh_database, tmp_path
):
    from airflow_provider_lightning.core.sample import SBTEST, write_table

    out = tmp_path / "strict"
    (f,) = write_table(out, SBTEST, 3000, fmt="csv")
    f.rename(out / "src.sbtest.csv")
    (out / "bench.sbtest-schema.sql").rename(out / "src.sbtest-schema.sql")
    store = FileCheckpointStore(tmp_path / "cp.json")
    config = _config(
        out, fresh_database, mysql_server, "src",
        mydumper={"strict-format": True, "max-region-size": "64KiB",
                  "csv": {"header": False, "terminator": "\n"}},
        checkpoint={"keep-after-success": "origin"},
    )
    summary = run_import(config, store)

    table = FileCheckpointStore(tmp_path / "cp.json").get_table(f"`{fresh_database}`.`sbtest`")
    assert len(table.chunks) >= 5
    assert [c.offset for c in table.chunks] == sorted(c.offset for c in table.chunks)
    assert [p.checksum for p in summary.post] == ["ok"]
    assert summary.tables[0].rows == 3000


@pytest.mark.parametrize("rows", ["()", "(),()", "( ), (\t)"])
def test_values_of_empty_rows_without_a_column_list_import_as_rows_of_defaults(
    mysql_server, fresh_database, tmp_path, rows
):
    out = tmp_path / "defaults"
    out.mkdir()
    (out / "src.t-schema.sql").write_text(
        "CREATE TABLE `t` (`id` int NOT NULL AUTO_INCREMENT PRIMARY KEY, `v` varchar(10) DEFAULT 'd');\n"
    )
    (out / "src.t.sql").write_text(f"INSERT INTO `t` VALUES {rows};\n")
    run_import(_config(out, fresh_database, mysql_server, "src"), MemoryCheckpointStore())
    count = rows.count("(")
    assert _rows(mysql_server, fresh_database, "t", "id") == [(str(i).encode(), b"d") for i in range(1, count + 1)]
