"""A corpus of bad inputs, each imported by the real ``lightning`` command into a fresh database.

Every case in ``tests/data/bad/<case>/`` is a tiny data source (database ``bad``) and an ``expect.toml``:

- ``outcome = "error"``: a non-zero exit, no traceback, and a last message matching every regex of
  ``messages`` (they name the file and the byte offset or line, or the table);
- ``outcome = "ok"``: exit 0, and still no traceback;
- ``output``: regexes that must all match the command's whole output (the precheck report is in it);
- ``[tables]``: the exact rows of each table of the target database afterwards (a list of rows, or
  ``{ ids = [first, last], v = "row{id}" }``); tables not listed must not exist. When the prechecks
  refuse the import, the tables must be empty: nothing is written before them;
- ``rows_before_error = true``: the rows listed (in file order) are those before the bad input, which
  must have been committed; nothing else may be there;
- ``[[type_errors]]`` / ``[[syntax_errors]]`` / ``[[conflicts]]``: the exact rows of the error tables
  (table, file, offset of the row's first byte, and a piece of the error text);
- ``[config...]``: settings for the case's ``tidb-lightning.toml``; ``route_schema``: the
  ``[[routes]] schema-pattern`` that sends the case's database(s) to the fresh database (``bad``);

And in every case the command touches nothing outside its target and task-info databases: ``@VICTIM@``
in a file's name or content stands for a database the test creates and checks is still there and still
empty, and no database named by the case's files (nor in ``absent_databases``) may appear.

``make_corpus.py`` in the corpus folder writes the cases (and documents how the binary ones were made).
All 53 cases take 25-40 seconds together: one ``lightning`` process per case, about half a second each.
"""

from __future__ import annotations

import datetime
import decimal
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pymysql
import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CORPUS = Path(__file__).resolve().parent.parent / "data" / "bad"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expect.toml").is_file())
LIGHTNING = Path(sys.executable).with_name("lightning")
ERROR_TABLES = {
    "type_errors": "type_error_v1",
    "syntax_errors": "syntax_error_v1",
    "conflicts": "conflict_records",
}

def test_the_corpus_holds_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_every_case_declares_an_outcome_and_the_rows_it_leaves():
    for name in CASES:
        expect = _expect(name)
        assert expect.get("outcome") in ("ok", "error"), name
        assert "tables" in expect, f"{name}: [tables] (the rows left in the target) is missing"
        if expect["outcome"] == "error":
            assert expect.get("messages"), f"{name}: an error case names what its message must say"


@pytest.mark.slow  # documentation only: 25-40 s for all cases together
@pytest.mark.parametrize("case", CASES)
def test_bad_input(case, mysql_server, make_database, tmp_path):
    expect = _expect(case)
    target = make_database("lt_bad")
    task_info = make_database("lt_badti")
    victim = make_database("lt_victim")

    source = _copy_case(CORPUS / case, tmp_path / "source", victim)
    config = tmp_path / "tidb-lightning.toml"
    config.write_text(_toml(_config_for(expect, target, task_info)))
    run = subprocess.run(
        [
            str(LIGHTNING), "import",
            "--source", str(source),
            "--target", mysql_server.url,
            "-c", str(config),
            "--checkpoint-file", str(tmp_path / "checkpoints.json"),
            "--no-progress",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )
    output = run.stdout + run.stderr
    message = _final_message(run.stderr)
    assert "pending" not in expect, "every outcome is asserted: a case has no [pending] section"

    assert "Traceback (most recent call last)" not in output, output
    assert "unexpected error" not in message, message
    if expect["outcome"] == "ok":
        assert run.returncode == 0, f"exit {run.returncode}: {message or output[-2000:]}"
    else:
        assert run.returncode != 0, f"the import succeeded:\n{run.stdout}"
        for pattern in expect["messages"]:
            assert re.search(_substitute(pattern, victim), message), f"{pattern!r} not in: {message}"

    for pattern in expect.get("output", ()):
        assert re.search(_substitute(pattern, victim), output), f"{pattern!r} not in the output:\n{output}"

    keys = {f"`{target}`.`{name.replace('`', '``')}`" for name in _tables(mysql_server, target)}
    unquoted = _unquoted_commands(output, keys)
    assert not unquoted, f"commands a shell misreads: {unquoted}"

    assert _database_exists(mysql_server, victim), "the victim database is gone"
    assert not _tables(mysql_server, victim), "tables appeared in the victim database"
    for name in _source_databases(source) | set(expect.get("absent_databases", ())):
        assert not _database_exists(mysql_server, name), f"database {name!r} appeared on the server"

    for key, table in ERROR_TABLES.items():
        wanted = sorted(
            (
                f"`{target}`.`{_substitute(e['table'], victim)}`",
                _substitute(e["path"], victim),
                e["offset"],
                e.get("error", ""),
            )
            for e in expect.get(key, ())
        )
        found = _error_rows(mysql_server, task_info, table)
        assert len(found) == len(wanted), f"{table}: {found}"
        for (*where, error), (*found_where, text) in zip(wanted, found, strict=True):
            assert error in text, f"{table}: {error!r} not in {text!r}"
            assert found_where == where, f"{table}: {found_where} recorded, {where} expected"

    wanted_tables = {
        _substitute(name, victim): _table_rows(rows, victim) for name, rows in expect["tables"].items()
    }
    assert _tables(mysql_server, target) == set(wanted_tables)
    # Prechecks run after the schema is created and before any row is written; they may catch (and name)
    # what the import would otherwise stop at.
    refused_by_prechecks = "prechecks failed" in message.split("\n", 1)[0]
    for name, rows in wanted_tables.items():
        held = _rows(mysql_server, target, name)
        # Exactly the rows listed: with rows_before_error, every good row before the bad input committed.
        assert held == rows or (refused_by_prechecks and not held), f"table {name} holds {held}, not {rows}"


# --- helpers ---------------------------------------------------------------------------------------------


def _expect(case: str) -> dict[str, Any]:
    return tomllib.loads((CORPUS / case / "expect.toml").read_text())


def _substitute(text: str, victim: str) -> str:
    return text.replace("@VICTIM@", victim)


def _table_rows(rows: list[list[Any]] | dict[str, Any], victim: str) -> list[tuple]:
    """A table's rows as expect.toml gives them: a list, or ``{ ids = [first, last], v = "row{id}" }``."""
    if isinstance(rows, dict):
        first, last = rows["ids"]
        return [(i, rows["v"].format(id=i)) for i in range(first, last + 1)]
    return sorted(tuple(_substitute(v, victim) if isinstance(v, str) else v for v in _plain(r)) for r in rows)


def _copy_case(case_dir: Path, dest: Path, victim: str) -> Path:
    """The case's files without expect.toml, with @VICTIM@ replaced in names and contents."""
    dest.mkdir()
    for path in sorted(case_dir.iterdir()):
        if path.name == "expect.toml":
            continue
        content = path.read_bytes().replace(b"@VICTIM@", victim.encode())
        (dest / _substitute(path.name, victim)).write_bytes(content)
    return dest


def _config_for(expect: dict[str, Any], target: str, task_info: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "lightning": {"task-info-schema-name": task_info, "region-concurrency": 2},
        "routes": [{"schema-pattern": expect.get("route_schema", "bad"), "target-schema": target}],
    }
    for section, values in expect.get("config", {}).items():
        _merge(config.setdefault(section, {}), values)
    return config


def _merge(into: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict):
            _merge(into.setdefault(key, {}), value)
        else:
            into[key] = value


def _toml(config: dict[str, Any]) -> str:
    """TOML for a config of tables of scalars (and arrays of such tables), as the cases need."""
    lines: list[str] = []

    def table(prefix: str, values: dict[str, Any]) -> None:
        nested = {k: v for k, v in values.items() if isinstance(v, dict)}
        lines.append(f"[{prefix}]")
        lines.extend(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items() if k not in nested)
        for key, sub in nested.items():
            table(f"{prefix}.{json.dumps(key)}", sub)

    for section, values in config.items():
        if isinstance(values, list):
            for item in values:
                lines.append(f"[[{section}]]")
                lines.extend(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in item.items())
        else:
            table(json.dumps(section), values)
    return "\n".join(lines) + "\n"


def _final_message(stderr: str) -> str:
    """What the command printed last, after ``lightning:`` — the message a user reads."""
    found = list(re.finditer(r"(?:^|\n)lightning: ", stderr))
    return stderr[found[-1].end() :].strip() if found else ""


def _unquoted_commands(output: str, keys: set[str]) -> list[str]:
    """The ``lightning ctl`` commands in the output whose table argument a shell would not read as the table.

    Only arguments that start with a quote or a backquote are looked at (``all`` needs no quoting); such an
    argument is right when some prefix of it, ended by a space, a backquote or the line's end, is exactly
    one shell word that is one of ``keys``.
    """
    bad = []
    for match in re.finditer(r"lightning ctl checkpoint-[a-z-]+ ([`'\"][^\n]*)", output):
        text = match.group(1)
        ends = [i for i in range(1, len(text) + 1) if i == len(text) or text[i] in " `"]
        if not any(_shell_words(text[:i]) in ([k] for k in keys) for i in ends):
            bad.append(match.group(0))
    return bad


def _shell_words(text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError:
        return None


def _source_databases(source: Path) -> set[str]:
    """The database names the case's files carry (``db.tbl...``, ``db-schema-create.sql``): routed to the
    target, none of them may appear on the server."""
    names = set()
    for path in source.iterdir():
        name = path.name.split(".", 1)[0]
        names.add(name.removesuffix("-schema-create"))
    return names


def _database_exists(server, name: str) -> bool:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def _tables(server, database: str) -> set[str]:
    conn = server.connect(charset="utf8mb4")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (database,)
            )
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def _rows(server, database: str, table: str) -> list[tuple]:
    conn = server.connect(database, charset="utf8mb4")
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM `{table.replace('`', '``')}`")
            return sorted(_plain(row) for row in cur.fetchall())
    finally:
        conn.close()


def _plain(row) -> tuple:
    """A row with values as TOML writes them: dates and decimals as text."""
    out = []
    for value in row:
        if isinstance(value, (datetime.date, datetime.timedelta, decimal.Decimal)):
            value = str(value)
        elif isinstance(value, bytes):
            value = value.decode("utf-8", "backslashreplace")
        out.append(value)
    return tuple(out)


def _error_rows(server, schema: str, table: str) -> list[tuple[str, str, int, str]]:
    conn = server.connect(charset="utf8mb4")
    try:
        with conn.cursor() as cur:
            try:
                cur.execute(f"SELECT table_name, path, `offset`, error FROM `{schema}`.`{table}`")
            except pymysql.err.ProgrammingError:  # never created: the import stopped before its tables
                return []
            return sorted((r[0], r[1], int(r[2]), r[3]) for r in cur.fetchall())
    finally:
        conn.close()
