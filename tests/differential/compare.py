"""Comparing a table the oracle loaded with the one ``lightning import`` loaded: columns, rows, checksum."""

from __future__ import annotations

from typing import Any

import pymysql

MAX_DIFFERENCES_SHOWN = 12


def table_columns(server, database: str, table: str) -> list[tuple]:
    """What the table's columns are: name, type, character set, collation, nullability, default."""
    return _query(
        server,
        "SELECT COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, IS_NULLABLE, COLUMN_DEFAULT "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
        "ORDER BY ORDINAL_POSITION",
        (database, table),
    )


def table_rows(server, database: str, table: str) -> list[tuple]:
    """The rows in primary-key order, every value as the server returns it to a utf8mb4 client."""
    return _query(server, f"SELECT * FROM `{database}`.`{table}` ORDER BY 1")


def table_checksum(server, database: str, table: str) -> int | None:
    return _query(server, f"CHECKSUM TABLE `{database}`.`{table}`")[0][1]


def table_exists(server, database: str, table: str) -> bool:
    return bool(
        _query(
            server,
            "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (database, table),
        )
    )


def describe_row_differences(columns: list[str], expected: list[tuple], actual: list[tuple]) -> str:
    """A readable diff of two row lists keyed by their first column: which rows and values differ, and how."""
    want = {row[0]: row for row in expected}
    got = {row[0]: row for row in actual}
    lines: list[str] = []
    for key in sorted(set(want) | set(got), key=repr):
        if key not in got:
            lines.append(f"  id={key!r}: missing (the oracle has {want[key]!r})")
        elif key not in want:
            lines.append(f"  id={key!r}: extra row {got[key]!r}")
        elif want[key] != got[key]:
            for name, w, g in zip(columns, want[key], got[key]):
                if w != g:
                    lines.append(
                        f"  id={key!r} column {name}: mariadb stored {_show(w)}, lightning stored {_show(g)}"
                    )
    shown = lines[:MAX_DIFFERENCES_SHOWN]
    if len(lines) > len(shown):
        shown.append(f"  ... and {len(lines) - len(shown)} more differences")
    return f"{len(expected)} rows in the oracle, {len(actual)} in ours:\n" + "\n".join(shown)


def assert_same_table(server, oracle: str, ours: str, table: str, context: str) -> None:
    """The table in ``ours`` is the table in ``oracle``: same columns, same rows, same ``CHECKSUM TABLE``."""
    assert table_exists(server, oracle, table), f"the oracle did not load `{table}`"
    assert table_exists(server, ours, table), f"`{table}` was not created by the import. {context}"
    columns = table_columns(server, oracle, table)
    assert table_columns(server, ours, table) == columns, f"`{table}` was created with other columns"
    expected = table_rows(server, oracle, table)
    actual = table_rows(server, ours, table)
    names = [c[0] for c in columns]
    assert actual == expected, f"`{table}`: {describe_row_differences(names, expected, actual)}\n{context}"
    assert table_checksum(server, ours, table) == table_checksum(server, oracle, table), (
        f"`{table}`: same rows as read by a client, yet CHECKSUM TABLE differs"
    )


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"{value!r} (utf-8 {value.encode('utf-8', 'surrogatepass').hex()})"
    return repr(value)


def _query(server, sql: str, args: tuple = ()) -> list[tuple]:
    conn = server.connect(charset="utf8mb4")
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    except pymysql.err.MySQLError as exc:
        raise AssertionError(f"{sql}: {exc}") from exc
    finally:
        conn.close()
