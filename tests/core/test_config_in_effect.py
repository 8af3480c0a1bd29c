"""Config keys proven by a real import (``lightning import`` against the real MariaDB): a ``sql-mode`` the
user wrote is used as written, ``[black-white-list]`` chooses the tables, and a source database whose tables
are all routed elsewhere is not created."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.core.test_cli import count_rows, run_lightning, write_config

LIGHTNING_DEFAULT_SQL_MODE = "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER"
# A CSV that leaves out `n`, a NOT NULL column without a DEFAULT.
TABLE_SQL = "CREATE TABLE `t` (`id` INT PRIMARY KEY, `name` VARCHAR(10) NOT NULL, `n` INT NOT NULL);\n"
CSV_ROWS = "id,name\n1,one\n2,two\n"


def query(server, sql: str, *params):
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def csv_dump(root: Path, db: str) -> Path:
    root.mkdir()
    (root / f"{db}.t-schema.sql").write_text(TABLE_SQL)
    (root / f"{db}.t.000000001.csv").write_text(CSV_ROWS)
    return root


def import_args(server, config: Path, dump: Path, tmp_path: Path) -> list[str]:
    return [
        "import", "-c", str(config), "--source", str(dump), "--target", server.url,
        "--checkpoint-file", str(tmp_path / "checkpoints.json"),
    ]


# ---- sql-mode -------------------------------------------------------------------------------------------


def test_a_written_sql_mode_equal_to_lightnings_default_is_used_as_written(
    mysql_server, fresh_database, make_database, tmp_path
):
    dump = csv_dump(tmp_path / "dump", fresh_database)
    config = write_config(
        tmp_path / "tidb-lightning.toml",
        make_database("lt_ti"),
        f'[tidb]\nsql-mode = "{LIGHTNING_DEFAULT_SQL_MODE}"\n',
    )

    result = run_lightning(*import_args(mysql_server, config, dump, tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    imported = query(mysql_server, f"SELECT id, name, n FROM `{fresh_database}`.t ORDER BY id")
    # What MariaDB itself does with the same sql_mode for an INSERT that leaves the column out.
    reference = make_database("lt_ref")
    conn = mysql_server.connect(reference)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SET SESSION sql_mode = '{LIGHTNING_DEFAULT_SQL_MODE}'")
            cur.execute(TABLE_SQL)
            cur.execute("INSERT INTO t (id, name) VALUES (1, 'one'), (2, 'two')")
            cur.execute("SELECT id, name, n FROM t ORDER BY id")
            expected = cur.fetchall()
        conn.commit()
    finally:
        conn.close()
    assert imported == expected
    assert [row[2] for row in imported] == [0, 0]


def test_without_a_written_sql_mode_the_precheck_refuses_and_names_sql_mode_as_a_way_out(
    mysql_server, fresh_database, make_database, tmp_path
):
    dump = csv_dump(tmp_path / "dump", fresh_database)
    config = write_config(tmp_path / "tidb-lightning.toml", make_database("lt_ti"))

    result = run_lightning(*import_args(mysql_server, config, dump, tmp_path))

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "NOT NULL without a default" in output
    assert "[tidb] sql-mode without STRICT_TRANS_TABLES" in output


# ---- [black-white-list] ---------------------------------------------------------------------------------


def sql_dump(root: Path, tables: dict[str, list[str]]) -> Path:
    """A mydumper-style dump: for each database its schema file and, per table, a schema and a data file of
    three rows whose keys no other table of the dump uses (so shards can merge)."""
    root.mkdir(exist_ok=True)
    first = 1
    for db, names in tables.items():
        (root / f"{db}-schema-create.sql").write_text(f"CREATE DATABASE `{db}`;\n")
        for name in names:
            (root / f"{db}.{name}-schema.sql").write_text(f"CREATE TABLE `{name}` (`id` INT PRIMARY KEY);\n")
            rows = ",".join(f"({key})" for key in range(first, first + 3))
            (root / f"{db}.{name}.000000001.sql").write_text(f"INSERT INTO `{name}` VALUES {rows};\n")
            first += 3
    return root


def test_black_white_list_imports_only_the_tables_it_lets_through(
    mysql_server, fresh_database, make_database, tmp_path
):
    other = make_database("lt_bwl")
    dump = sql_dump(tmp_path / "dump", {fresh_database: ["keep", "skip_me"], other: ["t"]})
    config = write_config(
        tmp_path / "tidb-lightning.toml",
        make_database("lt_ti"),
        f'[black-white-list]\ndo-dbs = ["{fresh_database}"]\n'
        f'[[black-white-list.ignore-tables]]\ndb-name = "{fresh_database}"\ntbl-name = "skip_*"\n',
    )

    result = run_lightning(*import_args(mysql_server, config, dump, tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert count_rows(mysql_server, fresh_database, "keep") == 3
    tables = {row[0] for row in query(
        mysql_server,
        "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables "
        "WHERE table_schema IN (%s, %s)",
        fresh_database, other,
    )}
    assert tables == {f"{fresh_database}.keep"}


# ---- [[routes]] ------------------------------------------------------------------------------------------


@pytest.fixture
def unborn_database(mysql_server):
    """A database name that does not exist; dropped afterwards if the test created it after all."""
    name = f"lt_src_{uuid.uuid4().hex[:12]}"
    yield name
    query(mysql_server, f"DROP DATABASE IF EXISTS `{name}`")


def test_a_source_database_whose_tables_are_all_routed_away_is_not_created(
    mysql_server, fresh_database, make_database, unborn_database, tmp_path
):
    dump = sql_dump(tmp_path / "dump", {unborn_database: ["orders_1", "orders_2"]})
    config = write_config(
        tmp_path / "tidb-lightning.toml",
        make_database("lt_ti"),
        f'[[routes]]\nschema-pattern = "{unborn_database}"\ntable-pattern = "orders_*"\n'
        f'target-schema = "{fresh_database}"\ntarget-table = "orders"\n',
    )

    result = run_lightning(*import_args(mysql_server, config, dump, tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert count_rows(mysql_server, fresh_database, "orders") == 6
    schemata = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s"
    assert query(mysql_server, schemata, unborn_database)[0][0] == 0
