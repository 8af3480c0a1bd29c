"""Prechecks (Lightning's preCheckRequirements): what must hold before any row is written.

Every check that applies runs, and one readable report says for each: check, result, what to do.
Critical failures stop the import (:class:`PrecheckFailed` carries the whole report); warnings don't;
``[lightning] check-requirements = false`` skips all but the reachability check.

Each check is a small function that returns :class:`CheckItem` values, so it can be run and tested on
its own; :func:`precheck` gathers what they need (one catalogue connection, one bounded pass over the
first block of every data file) and runs them in order. ``docs/prechecks.md`` describes every check.

Lightning's checks (``lightning/pkg/importer/precheck_impl.go``) that mean something for a MySQL-compatible
target are here, with the same thresholds; the cluster checks (TiKV regions, PD, CDC/PiTR) are not, since
there is no TiKV. Beyond Lightning: the user's privileges, schema files that do not parse, rows larger than
``max_allowed_packet``, and target tables whose engine cannot roll back a batch.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from airflow_provider_lightning.core.checkpoints.model import (
    CheckpointStatus,
    TableCheckpoint,
    describe_status,
    is_error_status,
    table_key,
)
from airflow_provider_lightning.core.checkpoints.store import CheckpointStore
from airflow_provider_lightning.core.encode import qualified_name, quote_identifier, render_row
from airflow_provider_lightning.core.errors import (
    LightningError,
    ParseError,
    PrecheckFailed,
    SourceError,
    printable,
)
from airflow_provider_lightning.core.importer.plan import csv_dialect, plan_options, table_fingerprint
from airflow_provider_lightning.core.importer.progress import format_bytes
from airflow_provider_lightning.core.mydump.csv_parser import CsvParser
from airflow_provider_lightning.core.mydump.loader import DataSource, SourceFile, TableSource
from airflow_provider_lightning.core.mydump.router import SourceType
from airflow_provider_lightning.core.mydump.schema import (
    SchemaFile,
    SkippedStatement,
    parse_schema_file,
    schema_file_definer,
    statements_not_run,
)
from airflow_provider_lightning.core.mydump.sql_parser import SqlParser
from airflow_provider_lightning.core.storage import (
    MAX_SCHEMA_FILE_SIZE,
    Compression,
    Storage,
    open_source_file,
    read_whole_file,
)
from airflow_provider_lightning.core.target import (
    ColumnInfo,
    ConnectionSettings,
    ServerFacts,
    ServerFlavor,
    TableInfo,
    fetch_table_info,
    mysql_message,
)
from airflow_provider_lightning.core.importer.env import ImportEnv
from airflow_provider_lightning.core.target import as_text as _text

log = logging.getLogger(__name__)

CRITICAL = "critical"
WARNING = "warning"

LARGE_FILE_THRESHOLD = 10 * 1024**3
"""A data file larger than this that cannot be split is read by one worker start to end: a warning.
Lightning's ``defaultCSVSize`` (10 GiB)."""

FIRST_BLOCK_SIZE = 16 * 1024
"""How much of each data file the readability check reads (through decompression)."""

FIRST_ROW_LIMIT = 1024 * 1024
"""The longest first row (or CSV header line) the file checks read before giving up on it."""

ROW_SAMPLE_BYTES = 4 * 1024 * 1024
"""How far into a file the ``max_allowed_packet`` check reads (rows that start before it are read whole)."""

ROW_SAMPLE_FILES = 32
"""At most this many files are sampled for row sizes: the largest candidate of each table, largest first."""

MAX_CHUNKS_PER_FILE = 10_000
"""With ``strict-format``, a file cut into more chunks than this makes checkpoints large: a warning."""

STATEMENT_MARGIN = 1024
"""Bytes a single-row statement needs besides the row and its ``INSERT INTO ... VALUES`` head."""

MAX_PACKET_LIMIT = 1024**3
"""The largest ``max_allowed_packet`` MySQL and MariaDB accept (1 GiB)."""

_SHOWN = 10  # how many names a message lists before it counts the rest
_SPLIT_FACTOR = 1.1  # as plan.py: a strict-format CSV is split when larger than 1.1 × max-region-size


# --- the report ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One check's outcome: ``message`` says what was found, ``advice`` what to do about it."""

    name: str
    severity: str  # "critical" | "warning"
    passed: bool
    message: str
    advice: str = ""

    @property
    def result(self) -> str:
        if self.passed:
            return "pass"
        return "FAIL" if self.severity == CRITICAL else "warn"


@dataclass(frozen=True, slots=True)
class PrecheckReport:
    items: tuple[CheckItem, ...]

    @property
    def failed(self) -> tuple[CheckItem, ...]:
        return tuple(i for i in self.items if not i.passed and i.severity == CRITICAL)

    @property
    def warnings(self) -> tuple[CheckItem, ...]:
        return tuple(i for i in self.items if not i.passed and i.severity != CRITICAL)

    def item(self, name: str) -> CheckItem | None:
        """The first item of check ``name``, if it ran."""
        return next((i for i in self.items if i.name == name), None)

    def render(self) -> str:
        """A table: check, result, details; the advice on the lines below a failed or warned check."""
        width = max((len(i.name) for i in self.items), default=10)
        indent = " " * (width + 10)
        lines = [f"{'check':<{width}}  result  details"]
        for item in self.items:
            text = item.message.splitlines() or [""]
            lines.append(f"{item.name:<{width}}  {item.result:<6}  {text[0]}")
            lines.extend(indent + line for line in text[1:])
            if item.advice and not item.passed:
                advice = item.advice.splitlines()
                lines.append(indent + "what to do: " + advice[0])
                lines.extend(indent + "  " + line for line in advice[1:])
        failed, warned = len(self.failed), len(self.warnings)
        lines.append(f"{len(self.items)} checks: {failed} failed, {warned} warnings")
        return "\n".join(lines)

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "name": i.name,
                "severity": i.severity,
                "passed": i.passed,
                "message": i.message,
                "advice": i.advice,
            }
            for i in self.items
        ]


def _passed(name: str, message: str, severity: str = CRITICAL) -> CheckItem:
    return CheckItem(name, severity, True, message)


def _listing(names: Sequence[str], limit: int = _SHOWN) -> str:
    """``a, b, c`` or ``a, b, c and 7 more``, each name with its control characters escaped."""
    shown = ", ".join(printable(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _scan_workers(config: Any) -> int:
    """Threads for reading the source: bounded, like restore_schema's (I/O bound on S3)."""
    return min(32, max(4, 2 * config.lightning.region_concurrency))


# --- the step --------------------------------------------------------------------------------------------


def precheck(env: ImportEnv, store: CheckpointStore | None) -> PrecheckReport:
    """Run every check that applies; raise :class:`PrecheckFailed` (the whole report) if a critical one fails."""
    config = env.config
    started = time.monotonic()
    items = check_target_reachable(env)
    if all(i.passed for i in items) and config.lightning.check_requirements:
        items += _requirement_checks(env, store)
    elif not config.lightning.check_requirements:
        log.info("prechecks skipped (lightning.check-requirements = false); only the target was checked")
    report = PrecheckReport(tuple(items))
    log.info("precheck report (%.1fs):\n%s", time.monotonic() - started, report.render())
    if report.failed:
        raise PrecheckFailed("prechecks failed:\n" + report.render())
    return report


def _requirement_checks(env: ImportEnv, store: CheckpointStore | None) -> list[CheckItem]:
    config = env.config
    facts = env.prepared.facts
    source = env.source
    resuming = set(store.table_names()) if store is not None else set()
    workers = _scan_workers(config)
    items: list[CheckItem] = []

    def run(name: str, check: Callable[[], CheckItem | list[CheckItem]]) -> None:
        began = time.monotonic()
        try:
            found = check()
        except (LightningError, pymysql.err.MySQLError) as exc:
            message = mysql_message(exc) if isinstance(exc, pymysql.err.MySQLError) else str(exc)
            found = CheckItem(name, CRITICAL, False, f"the check could not run: {message}")
        items.extend(found if isinstance(found, list) else [found])
        log.debug("precheck %s took %.3fs", name, time.monotonic() - began)

    run("target version", lambda: check_server_version(facts, config))
    conn = env.connect()
    try:
        schemas = {t.schema for t in source.tables} | {v.schema for v in source.views}
        if env.task_info_schema:
            schemas.add(env.task_info_schema)
        catalog = TargetCatalog(conn, schemas, case_insensitive=facts.lower_case_table_names != 0)
        run("privileges", lambda: check_privileges(conn, config, source, facts, env.settings))
        if store is not None and config.checkpoint.enable:
            run(
                "checkpoints",
                lambda: check_checkpoints(
                    store, source, config, source_url=env.storage.url, target=env.settings
                ),
            )
        run("data files have tables", lambda: check_tables_exist(source, catalog, config))
        run("unmatched files", lambda: check_unmatched_files(source))
        if source.warnings:
            items.append(check_source_layout(source))
        run("existing objects", lambda: check_existing_objects(catalog, source, config))
        if not config.mydumper.no_schema:
            run("schema files", lambda: check_schema_files(env.storage, source, config, workers=workers))
            run(
                "schema statements",
                lambda: check_schema_statements(env.storage, source, config, workers=workers),
            )
            if config.mydumper.keep_definer and source.views:
                run("definers", lambda: check_definers(conn, env.storage, source, config, facts))
        probes: list[FileProbe] = []

        def readable() -> CheckItem:
            probes.extend(probe_data_files(env.storage, source, config, workers=workers))
            return check_files_readable(probes)

        run("data files readable", readable)
        strict = _is_strict(env.prepared.session.sql_mode)
        run("CSV header", lambda: check_csv_headers(probes, catalog, config, strict_sql_mode=strict))
        run("large data files", lambda: check_large_files(source, config))
        run(
            "max_allowed_packet",
            lambda: check_row_sizes(
                env.storage, source, config, facts.max_allowed_packet, catalog, workers=min(4, workers)
            ),
        )
        run("target tables empty", lambda: check_tables_empty(conn, source, catalog, config, resuming))
        run(
            "transactional engines",
            lambda: check_transactional_engines(conn, catalog, source, env.task_info_schema),
        )
        if str(config.tikv_importer.backend) == "local":
            run("sorted-kv-dir", lambda: check_sorted_kv_dir(config, source, env.storage.url))
    finally:
        conn.close()
    return items


# --- the target ------------------------------------------------------------------------------------------


def check_target_reachable(env: ImportEnv) -> list[CheckItem]:
    """The target answers, as the configured user (run even with ``check-requirements = false``)."""
    name = "target reachable"
    advice = (
        "check [tidb] host, port, user and password (or the Airflow connection), and that the server runs"
    )
    try:
        facts = env.prepared.facts
        conn = env.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT CURRENT_USER()")
                (user,) = cur.fetchone()
        finally:
            conn.close()
    except (LightningError, pymysql.err.MySQLError) as exc:
        message = mysql_message(exc) if isinstance(exc, pymysql.err.MySQLError) else str(exc)
        return [CheckItem(name, CRITICAL, False, message, advice)]
    return [_passed(name, f"{env.settings.address} as {user}: {facts.flavor.value} {facts.version}")]


def check_server_version(facts: ServerFacts, config: Any) -> CheckItem:
    """Refuse servers that cannot hold the tables the import itself creates; warn on very old ones.

    The reasons are concrete: the task-info tables (error records, progress markers) use
    ``DATETIME(6) DEFAULT NOW(6)`` (MySQL 5.6.5, MariaDB 10.0.1), and the ``mysql`` checkpoint tables have
    primary keys on ``varchar(261)`` utf8mb4 columns, longer than 767 bytes, which InnoDB allows by
    default only from MySQL 5.7.7 and MariaDB 10.2.2 (``innodb_large_prefix``, DYNAMIC rows).
    """
    name = "target version"
    flavor, version = facts.flavor, facts.version_tuple
    shown = f"{flavor.value} {'.'.join(str(p) for p in version)}"
    if flavor is ServerFlavor.TIDB or not version:
        return _passed(name, shown)
    mysql = flavor is ServerFlavor.MYSQL
    upgrade = "upgrade the server (MySQL 5.7 or later, MariaDB 10.3 or later)"
    no_fractional_defaults = version < ((5, 6, 5) if mysql else (10, 0, 1))
    if no_fractional_defaults and config.lightning.task_info_schema_name:
        return CheckItem(
            name,
            CRITICAL,
            False,
            f"{shown} cannot create the task-info tables ({config.lightning.task_info_schema_name}): they use "
            "DATETIME(6) DEFAULT NOW(6), which needs MySQL 5.6.5 or MariaDB 10.0.1",
            upgrade,
        )
    short_keys = version < ((5, 7, 7) if mysql else (10, 2, 2))
    checkpoint = config.checkpoint
    if short_keys and checkpoint.enable and checkpoint.driver == "mysql" and not checkpoint.dsn.strip():
        return CheckItem(
            name,
            CRITICAL,
            False,
            f"{shown} limits InnoDB keys to 767 bytes by default, and the mysql checkpoint tables have "
            "primary keys on varchar(261) utf8mb4 columns (1044 bytes)",
            f'{upgrade}, or keep the checkpoints elsewhere: [checkpoint] driver = "file"',
        )
    if version < ((5, 7) if mysql else (10, 3)):
        return CheckItem(
            name,
            WARNING,
            False,
            f"{shown} is older than MySQL 5.7 / MariaDB 10.3 (both past their end of life); imports into it "
            "are not tested (the test suite runs on MariaDB 10.11)",
            upgrade,
        )
    return _passed(name, shown)


@dataclass(frozen=True, slots=True)
class TargetTable:
    schema: str
    name: str
    engine: str
    is_view: bool


class TargetCatalog:
    """The target's tables in the schemas the import touches (two queries); column details on demand."""

    def __init__(self, conn: Any, schemas: Iterable[str], *, case_insensitive: bool = False) -> None:
        self._conn = conn
        self._fold = (lambda s: s.lower()) if case_insensitive else (lambda s: s)
        self._tables: dict[tuple[str, str], TargetTable] = {}
        self._infos: dict[tuple[str, str], TableInfo | None] = {}
        names = sorted(set(schemas))
        with conn.cursor() as cur:
            if names:
                cur.execute(
                    "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES "
                    f"WHERE TABLE_SCHEMA IN ({', '.join(['%s'] * len(names))})",
                    names,
                )
                for schema, table, kind, engine in cur.fetchall():
                    found = TargetTable(_text(schema), _text(table), _text(engine), _text(kind) == "VIEW")
                    self._tables[(self._fold(found.schema), self._fold(found.name))] = found
            cur.execute("SELECT ENGINE, TRANSACTIONS FROM information_schema.ENGINES")
            self._transactional = {
                _text(engine).lower(): _text(tx).upper() == "YES" for engine, tx in cur.fetchall()
            }

    def get(self, schema: str, name: str) -> TargetTable | None:
        return self._tables.get((self._fold(schema), self._fold(name)))

    def tables_in(self, schema: str) -> list[TargetTable]:
        wanted = self._fold(schema)
        return [t for (s, _), t in sorted(self._tables.items()) if s == wanted]

    def info(self, schema: str, name: str) -> TableInfo | None:
        """Columns and keys of an existing table (cached)."""
        found = self.get(schema, name)
        if found is None:
            return None
        key = (found.schema, found.name)
        if key not in self._infos:
            self._infos[key] = fetch_table_info(self._conn, found.schema, found.name)
        return self._infos[key]

    def transactional(self, engine: str) -> bool | None:
        """Whether the engine rolls back (information_schema.ENGINES.TRANSACTIONS); None if unknown."""
        return self._transactional.get(engine.lower()) if engine else None




# --- privileges ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrivilegeNeed:
    """A privilege the import uses: on ``schema`` (``table`` None: the database itself), and why."""

    privilege: str
    schema: str
    table: str | None
    severity: str
    why: str


@dataclass(frozen=True, slots=True)
class _Grant:
    grantee: str
    privileges: frozenset[str]  # upper case; "ALL" for ALL [PRIVILEGES]
    column_privileges: frozenset[str]  # granted on some columns only
    schema: str | None  # None: *.* (global)
    table: str | None  # None: every table of the schema
    revoke: bool = False  # MySQL's partial revokes: REVOKE ... ON db.* FROM ...


class Grants:
    """What ``SHOW GRANTS`` says the session may do, and whether it can tell.

    Privileges apply globally (``*.*``), per database (a pattern: ``%`` and ``_`` are wildcards, ``\\``
    escapes), per table and per column. For one grantee the server uses a single matching database row (the
    most specific one); when several patterns match a database and they disagree, this cannot know which
    wins and answers "unsure" instead of guessing.
    """

    def __init__(
        self, grants: Sequence[_Grant], *, case_insensitive: bool = False, unsure_reason: str = ""
    ) -> None:
        self.grants = tuple(grants)
        self.case_insensitive = case_insensitive
        self.unsure_reason = unsure_reason

    def check(self, privilege: str, schema: str, table: str | None = None) -> str:
        """``"yes"``, ``"no"`` or ``"unsure"``: may the session use ``privilege`` on ``schema`` (or its ``table``)?"""
        privilege = privilege.upper()
        fold = str.lower if self.case_insensitive else (lambda s: s)
        revoked = {
            p
            for g in self.grants
            if g.revoke and g.schema is not None and fold(g.schema) == fold(schema)
            for p in g.privileges
        }
        unsure = False
        for g in self.grants:
            if g.revoke or g.schema is not None:
                continue
            if _grants(g.privileges, privilege) and privilege not in revoked and "ALL" not in revoked:
                return "yes"
        by_grantee: dict[str, list[_Grant]] = defaultdict(list)
        for g in self.grants:
            if (
                not g.revoke
                and g.schema is not None
                and g.table is None
                and _db_matches(g.schema, schema, self.case_insensitive)
            ):
                by_grantee[g.grantee].append(g)
        for matching in by_grantee.values():
            answers = {_grants(g.privileges, privilege) for g in matching}
            if answers == {True}:
                return "yes"
            if len(answers) > 1:
                unsure = True
        if table is not None:
            for g in self.grants:
                if g.revoke or g.schema is None or g.table is None:
                    continue
                if fold(g.schema) == fold(schema) and fold(g.table) == fold(table):
                    if _grants(g.privileges, privilege):
                        return "yes"
                    if privilege in g.column_privileges:
                        unsure = True  # enough if the import writes only those columns
        if unsure or self.unsure_reason:
            return "unsure"
        return "no"


def _grants(privileges: frozenset[str], privilege: str) -> bool:
    return privilege in privileges or "ALL" in privileges or "ALL PRIVILEGES" in privileges


def _db_matches(pattern: str, schema: str, case_insensitive: bool) -> bool:
    """MySQL's database-name wildcards: ``%`` any run, ``_`` one character, ``\\`` escapes the next."""
    regex = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        regex.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.fullmatch("".join(regex), schema, flags) is not None


_GRANT_TOKEN = re.compile(
    r"""\s*(?:
        (?P<bq>`(?:[^`]|``)*`)
      | (?P<sq>'(?:[^'\\]|\\.|'')*')
      | (?P<dq>"(?:[^"\\]|\\.|"")*")
      | (?P<punct>[(),.@*=])
      | (?P<word>[^\s(),.@*=`'"]+)
    )""",
    re.VERBOSE | re.DOTALL,
)
_GRANTEE_END = {"IDENTIFIED", "WITH", "REQUIRE", "PASSWORD", "ACCOUNT", "AS", "VIA", "USING"}


def _tokens(line: str) -> list[tuple[str, str]]:
    found = []
    pos = 0
    while pos < len(line):
        match = _GRANT_TOKEN.match(line, pos)
        if match is None or match.end() == pos:
            break
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        pos = match.end()
    return found


def _identifier(kind: str, text: str) -> str:
    if kind == "bq":
        return text[1:-1].replace("``", "`")
    if kind in ("sq", "dq"):
        quote = text[0]
        body = text[1:-1].replace(quote * 2, quote)
        return re.sub(r"\\(.)", r"\1", body) if "\\" in body else body
    return text


def parse_grant_line(line: str) -> tuple[_Grant | None, list[str]]:
    """One ``SHOW GRANTS`` line: a privilege grant (or MySQL partial revoke), or the roles it grants.

    Lines about routines, proxies or anything else come back as ``(None, [])``.
    """
    tokens = _tokens(line.strip())
    if not tokens or tokens[0][0] != "word" or tokens[0][1].upper() not in ("GRANT", "REVOKE"):
        return None, []
    revoke = tokens[0][1].upper() == "REVOKE"
    depth = 0
    on = to = None
    for index, (kind, text) in enumerate(tokens[1:], start=1):
        if kind == "punct" and text == "(":
            depth += 1
        elif kind == "punct" and text == ")":
            depth -= 1
        elif depth == 0 and kind == "word":
            word = text.upper()
            if word == "ON" and on is None:
                on = index
            elif word in ("TO", "FROM") and to is None:
                to = index
                break
    if to is None:
        return None, []
    if on is None:  # GRANT `role1`, `role2`@`%` TO user: the first name of each item
        roles: list[str] = []
        expect_name = True
        for kind, text in tokens[1:to]:
            if kind == "punct" and text == ",":
                expect_name = True
            elif expect_name and kind in ("bq", "sq", "dq", "word"):
                roles.append(_identifier(kind, text))
                expect_name = False
        return None, roles
    privileges, columns = _privilege_list(tokens[1:on])
    target = tokens[on + 1 : to]
    if target and target[0][0] == "word" and target[0][1].upper() in ("FUNCTION", "PROCEDURE", "PACKAGE"):
        return None, []
    if target and target[0][0] == "word" and target[0][1].upper() == "TABLE":
        target = target[1:]
    names: list[str | None] = []
    for kind, text in target:
        if kind == "punct" and text == ".":
            continue
        if kind == "punct" and text == "*":
            names.append(None)
        elif kind in ("bq", "sq", "dq", "word"):
            names.append(_identifier(kind, text))
        else:
            return None, []
    if len(names) != 2:
        return None, []  # PROXY ON ''@'%', or `*` (the current database): not about what we check
    schema, table = names
    if schema is None and table is not None:
        return None, []
    grantee = []
    for kind, text in tokens[to + 1 :]:
        if kind == "word" and text.upper() in _GRANTEE_END:
            break
        grantee.append(text)
    grant = _Grant("".join(grantee), frozenset(privileges), frozenset(columns), schema, table, revoke)
    return grant, []


def _privilege_list(tokens: Sequence[tuple[str, str]]) -> tuple[set[str], set[str]]:
    whole: set[str] = set()
    columns: set[str] = set()
    words: list[str] = []
    depth = 0
    has_columns = False

    def finish() -> None:
        nonlocal has_columns
        if words:
            name = " ".join(words).upper()
            name = "ALL" if name in ("ALL", "ALL PRIVILEGES") else name
            (columns if has_columns else whole).add(name)
        words.clear()
        has_columns = False

    for kind, text in tokens:
        if kind == "punct" and text == "(":
            depth += 1
            has_columns = True
        elif kind == "punct" and text == ")":
            depth -= 1
        elif depth == 0 and kind == "punct" and text == ",":
            finish()
        elif depth == 0 and kind == "word":
            words.append(text)
    finish()
    return whole, columns


def read_grants(conn: Any, facts: ServerFacts) -> Grants:
    """The session's privileges from ``SHOW GRANTS``, with those of its active roles.

    MariaDB lists the grants of the enabled role (and ``PUBLIC``) in ``SHOW GRANTS`` itself; MySQL and TiDB
    list only role memberships, so their active roles are read with ``SHOW GRANTS ... USING``.
    """
    case_insensitive = facts.lower_case_table_names != 0
    with conn.cursor() as cur:
        cur.execute("SHOW GRANTS")
        lines = [_text(row[0]) for row in cur.fetchall()]
        roles: list[str] = []
        grants: list[_Grant] = []
        for line in lines:
            grant, granted_roles = parse_grant_line(line)
            if grant is not None:
                grants.append(grant)
            roles.extend(granted_roles)
        unsure = ""
        if roles and facts.flavor is not ServerFlavor.MARIADB:
            cur.execute("SELECT CURRENT_ROLE()")
            active = _text(cur.fetchone()[0])
            if active and active.upper() != "NONE":
                try:
                    cur.execute(f"SHOW GRANTS FOR CURRENT_USER() USING {active}")
                    grants = [g for g in (parse_grant_line(_text(r[0]))[0] for r in cur.fetchall()) if g]
                except pymysql.err.MySQLError as exc:
                    unsure = f"the privileges of the active roles {active} are unknown ({mysql_message(exc)})"
    return Grants(grants, case_insensitive=case_insensitive, unsure_reason=unsure)


def privilege_needs(config: Any, source: DataSource, settings: ConnectionSettings) -> list[PrivilegeNeed]:
    """Every privilege the import (and ``lightning ctl``) will use, on which database or table, and why."""
    needs: list[PrivilegeNeed] = []
    add = needs.append
    no_schema = config.mydumper.no_schema
    strategy = str(config.conflict.strategy)
    backend = str(config.tikv_importer.backend)
    if not no_schema:
        for db in source.databases:
            add(
                PrivilegeNeed(
                    "CREATE", db.name, None, CRITICAL, "databases are created (CREATE DATABASE IF NOT EXISTS)"
                )
            )
    for table in source.tables:
        s, t = table.schema, table.name
        if table.schema_file is not None and not no_schema:
            add(PrivilegeNeed("CREATE", s, t, CRITICAL, "tables are created from their schema files"))
        if not table.data_files:
            continue
        add(PrivilegeNeed("INSERT", s, t, CRITICAL, "rows are written with INSERT"))
        add(
            PrivilegeNeed(
                "SELECT", s, t, CRITICAL, "the empty-table check, the checksum and ANALYZE read the table"
            )
        )
        if strategy == "replace":
            add(
                PrivilegeNeed(
                    "DELETE",
                    s,
                    t,
                    CRITICAL,
                    "[conflict] strategy = replace writes with REPLACE, which deletes what it replaces",
                )
            )
        if backend == "local":
            add(
                PrivilegeNeed(
                    "ALTER", s, t, CRITICAL, "the physical backend rebases AUTO_INCREMENT with ALTER TABLE"
                )
            )
        add(
            PrivilegeNeed(
                "DROP",
                s,
                t,
                WARNING,
                "`lightning ctl checkpoint-error-destroy` drops (no-schema: truncates) a table that failed",
            )
        )
    if not no_schema:
        for view in source.views:
            add(
                PrivilegeNeed(
                    "CREATE VIEW",
                    view.schema,
                    view.name,
                    CRITICAL,
                    "views are created (CREATE OR REPLACE VIEW)",
                )
            )
            add(
                PrivilegeNeed(
                    "DROP",
                    view.schema,
                    view.name,
                    CRITICAL,
                    "views are created with CREATE OR REPLACE VIEW, which needs DROP on the view even when "
                    "it does not exist yet",
                )
            )
    info = config.lightning.task_info_schema_name
    if info:
        for privilege in ("CREATE", "INSERT", "UPDATE", "DELETE", "SELECT"):
            add(
                PrivilegeNeed(
                    privilege,
                    info,
                    None,
                    CRITICAL,
                    "the task-info schema holds the error tables and the progress markers (exact resume)",
                )
            )
    checkpoint = config.checkpoint
    if checkpoint.enable and checkpoint.driver == "mysql" and _same_server(checkpoint.dsn, settings):
        cp = checkpoint.schema
        for privilege in ("CREATE", "INSERT", "UPDATE", "DELETE", "SELECT"):
            add(
                PrivilegeNeed(
                    privilege, cp, None, CRITICAL, "the mysql checkpoint driver keeps its tables there"
                )
            )
        keep = str(checkpoint.keep_after_success)
        if keep == "remove":
            add(
                PrivilegeNeed(
                    "DROP",
                    cp,
                    None,
                    CRITICAL,
                    "keep-after-success = remove drops the checkpoint schema after a successful import",
                )
            )
        elif keep == "rename":
            for privilege in ("ALTER", "DROP"):
                add(
                    PrivilegeNeed(
                        privilege,
                        cp,
                        None,
                        WARNING,
                        "keep-after-success = rename moves the checkpoint tables",
                    )
                )
            for privilege in ("CREATE", "INSERT"):
                add(
                    PrivilegeNeed(
                        privilege,
                        f"{cp}.1.bak",
                        None,
                        WARNING,
                        f"keep-after-success = rename moves the checkpoint tables into `{cp}.<task id>.bak`",
                    )
                )
    return needs


def _same_server(dsn: str, settings: ConnectionSettings) -> bool:
    """Whether the mysql checkpoint store is on the target, reached as the import's user."""
    if not dsn.strip():
        return True
    from airflow_provider_lightning.core.checkpoints.mysql_store import parse_mysql_dsn

    try:
        other = parse_mysql_dsn(dsn)
    except LightningError:
        return False
    return (other.host, other.port, other.user) == (settings.host, settings.port, settings.user)


def check_privileges(
    conn: Any, config: Any, source: DataSource, facts: ServerFacts, settings: ConnectionSettings
) -> list[CheckItem]:
    """The user may do what the import will do: ``SHOW GRANTS`` against :func:`privilege_needs`.

    SUPER and the ``SET`` privileges are not needed: the import only sets session variables.
    """
    grants = read_grants(conn, facts)
    with conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        current = _text(cur.fetchone()[0])
    user, _, host = current.rpartition("@")
    account = f"'{user}'@'{host}'" if user else f"'{current}'"
    missing: dict[str, list[PrivilegeNeed]] = {CRITICAL: [], WARNING: []}
    unsure: list[PrivilegeNeed] = []
    seen: set[tuple[str, str, str | None]] = set()
    for need in sorted(privilege_needs(config, source, settings), key=lambda n: n.severity != CRITICAL):
        key = (need.privilege, need.schema, need.table)
        if key in seen:
            continue
        seen.add(key)
        answer = grants.check(need.privilege, need.schema, need.table)
        if answer == "no":
            missing[need.severity].append(need)
        elif answer == "unsure":
            unsure.append(need)
    items = []
    if missing[CRITICAL]:
        items.append(
            CheckItem(
                "privileges",
                CRITICAL,
                False,
                f"{account} lacks what the import needs:\n" + _describe_needs(missing[CRITICAL]),
                "grant them, e.g.\n" + _grant_statements(missing[CRITICAL], account),
            )
        )
    else:
        items.append(_passed("privileges", f"{account} may do everything the import does"))
    if missing[WARNING] or unsure:
        lines = []
        if missing[WARNING]:
            lines.append("missing, needed only later:\n" + _describe_needs(missing[WARNING]))
        if unsure:
            reason = (
                grants.unsure_reason
                or "several overlapping grants (the server applies only one) or column grants"
            )
            lines.append(f"could not be verified ({reason}):\n" + _describe_needs(unsure))
        advice = _grant_statements(missing[WARNING], account) if missing[WARNING] else ""
        if unsure:
            advice = (
                advice + "\n" if advice else ""
            ) + "check the grants listed as unverified with SHOW GRANTS"
        items.append(CheckItem("privileges (later steps)", WARNING, False, "\n".join(lines), advice))
    return items


def _describe_needs(needs: Sequence[PrivilegeNeed]) -> str:
    by_what: dict[tuple[str, str], list[str]] = defaultdict(list)
    for need in needs:
        where = (
            quote_identifier(need.schema) + ".*"
            if need.table is None
            else qualified_name(need.schema, need.table)
        )
        by_what[(need.privilege, need.why)].append(where)
    return "\n".join(
        f"  {privilege} on {_listing(places, 5)}: {why}" for (privilege, why), places in by_what.items()
    )


def _grant_statements(needs: Sequence[PrivilegeNeed], account: str) -> str:
    per_schema: dict[str, list[str]] = {}
    for need in needs:
        privileges = per_schema.setdefault(need.schema, [])
        if need.privilege not in privileges:
            privileges.append(need.privilege)
    return "\n".join(
        f"GRANT {', '.join(privileges)} ON {quote_identifier(_escape_wildcards(schema))}.* TO {account};"
        for schema, privileges in per_schema.items()
    )


def _escape_wildcards(schema: str) -> str:
    """A database name as an exact GRANT pattern (``_`` and ``%`` are wildcards there)."""
    return schema.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


# --- what the schema step may touch ---------------------------------------------------------------------


def check_existing_objects(catalog: TargetCatalog, source: DataSource, config: Any) -> CheckItem:
    """No object of the target is of another kind than the dump's object of that name.

    ``restore_schema`` never drops or replaces what it did not create: a view in the dump where the target
    has a table (``CREATE OR REPLACE VIEW`` would need the table gone), or a table where the target has a
    view (rows would be written through the view into whatever it reads), stops the import before any DDL.
    """
    name = "existing objects"
    clashes: list[str] = []
    for table in source.tables:
        found = catalog.get(table.schema, table.name)
        if found is not None and found.is_view:
            origin = table.schema_file.path if table.schema_file is not None else "its data files"
            clashes.append(
                f"{qualified_name(found.schema, found.name)}: the dump has a table ({origin}), "
                "the target has a view of that name"
            )
    if not config.mydumper.no_schema:
        for view in source.views:
            found = catalog.get(view.schema, view.name)
            if found is not None and not found.is_view:
                clashes.append(
                    f"{qualified_name(found.schema, found.name)}: the dump has a view "
                    f"({view.schema_file.path}), the target has a table of that name "
                    f"({found.engine or 'no engine'})"
                )
    if not clashes:
        return _passed(name, "no table or view of the target is of another kind than the dump's of its name")
    return CheckItem(
        name,
        CRITICAL,
        False,
        f"{len(clashes)} objects of the target would have to be replaced by another kind:\n"
        + "\n".join(f"  {c}" for c in clashes[:_SHOWN])
        + (f"\n  ... and {len(clashes) - _SHOWN} more" if len(clashes) > _SHOWN else ""),
        "the import never drops or replaces what it did not create: drop or rename the target's object "
        "yourself if it may go, or send the dump's object elsewhere with [[routes]] or leave it out with "
        "mydumper.filter",
    )


def _read_schema_file_quietly(
    storage: Storage, file: SourceFile, kind: str, charset: str
) -> SchemaFile | None:
    """The parsed schema file, or None if it cannot be read (the "schema files" check reports why)."""
    try:
        with open_source_file(storage, file.path, file.compression) as f:
            data = f.read()
        return parse_schema_file(data, path=file.path, kind=kind, charset=charset)  # type: ignore[arg-type]
    except (SourceError, LightningError):
        return None


def _schema_jobs(source: DataSource) -> list[tuple[SourceFile, str]]:
    jobs: list[tuple[SourceFile, str]] = []
    for db in source.databases:
        if db.schema_file is not None:
            jobs.append((db.schema_file, "database"))
        jobs.extend((t.schema_file, "table") for t in db.tables if t.schema_file is not None)
        jobs.extend((v.schema_file, "view") for v in db.views)
    return jobs


def check_schema_statements(
    storage: Storage, source: DataSource, config: Any, *, workers: int = 4
) -> CheckItem:
    """Lists what schema files hold besides their CREATE: ``restore_schema`` does not run it.

    A warning, not a failure: a ``GRANT`` not applied or a trigger not created is the user's to decide.
    What the dumpers write around every CREATE (session ``SET``s, ``DROP ... IF EXISTS`` of the object
    itself, a view's placeholder ``CREATE TABLE``) is skipped by design and only counted.
    """
    name = "schema statements"
    charset = config.mydumper.character_set

    def skipped(job: tuple[SourceFile, str]) -> list[tuple[str, SkippedStatement]]:
        parsed = _read_schema_file_quietly(storage, job[0], job[1], charset)
        return [(job[0].path, s) for s in statements_not_run(parsed)] if parsed is not None else []

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="precheck-statements") as pool:
        found = [s for file_skipped in pool.map(skipped, _schema_jobs(source)) for s in file_skipped]
    by_design = [s for _, s in found if s.by_design]
    listed = [(path, s) for path, s in found if not s.by_design]
    design_note = (
        f"; {len(by_design)} statements the dumpers write around a CREATE (DROP ... IF EXISTS of the object "
        "itself, a view's placeholder table) are skipped by design"
        if by_design
        else ""
    )
    if not listed:
        message = f"schema files hold only CREATE statements and session settings{design_note}"
        return _passed(name, message, WARNING)
    lines = [f"  {path} line {s.statement.line}: {s.what}" for path, s in listed[:_SHOWN]]
    if len(listed) > _SHOWN:
        lines.append(f"  ... and {len(listed) - _SHOWN} more")
    return CheckItem(
        name,
        WARNING,
        False,
        f"{len(listed)} statements of schema files are not run (only CREATE DATABASE / TABLE / VIEW is)"
        f"{design_note}:\n" + "\n".join(lines),
        "nothing but the CREATE of a schema file ever runs; if you need what these statements do (a GRANT, a "
        "trigger, a routine), run them yourself after the import, once you have read them",
    )


def definer_privileges(flavor: ServerFlavor) -> tuple[str, ...]:
    """Any one of these lets a user create a view for another definer."""
    if flavor is ServerFlavor.MARIADB:
        return ("SET USER", "SUPER")
    if flavor is ServerFlavor.MYSQL:
        return ("SET_ANY_DEFINER", "SET_USER_ID", "SUPER")
    return ("SUPER",)


def check_definers(
    conn: Any, storage: Storage, source: DataSource, config: Any, facts: ServerFacts
) -> CheckItem:
    """With ``mydumper.keep-definer``: the importing user may create views for the dump's definers."""
    name = "definers"
    charset = config.mydumper.character_set
    with conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        current = _text(cur.fetchone()[0])
    user, _, host = current.rpartition("@")
    me = f"'{user}'@'{host}'"
    others: list[tuple[str, str]] = []
    for view in source.views:
        parsed = _read_schema_file_quietly(storage, view.schema_file, "view", charset)
        definer = schema_file_definer(parsed) if parsed is not None else None
        # User names are case-sensitive, host names are not.
        if definer is not None and definer != "CURRENT_USER" and not _same_account(definer, me):
            others.append((qualified_name(view.schema, view.name), definer))
    if not others:
        return _passed(
            name, "mydumper.keep-definer: every view's definer is the importing user (or none is named)"
        )
    grants = read_grants(conn, facts)
    wanted = definer_privileges(facts.flavor)
    # Global privileges: only a grant ON *.* gives them (ALL ON `db`.* does not).
    held = any(
        g.schema is None and not g.revoke and _grants(g.privileges, privilege)
        for g in grants.grants
        for privilege in wanted
    )
    shown = ", ".join(f"{view} (DEFINER={definer})" for view, definer in others[:_SHOWN])
    if held:
        return _passed(
            name, f"mydumper.keep-definer: {me} may create views for their dump's definers: {shown}"
        )
    verb = "may lack" if grants.unsure_reason else "lacks"
    return CheckItem(
        name,
        CRITICAL,
        False,
        f"mydumper.keep-definer is set, and {me} {verb} the privilege to create views for another definer "
        f"({' or '.join(wanted)}): {shown}",
        f"grant it (GRANT {wanted[0]} ON *.* TO {me};), or leave mydumper.keep-definer unset: the views are "
        "then created without their definer and read with the privileges of whoever queries them "
        "(SQL SECURITY INVOKER)",
    )


def _same_account(a: str, b: str) -> bool:
    user_a, _, host_a = a.rpartition("@")
    user_b, _, host_b = b.rpartition("@")
    return user_a == user_b and host_a.lower() == host_b.lower()


def check_before_schema(env: ImportEnv) -> PrecheckReport:
    """The checks ``restore_schema`` runs before its first DDL, so that a failure leaves the target as it was.

    "existing objects" always runs (the import never replaces what it did not create); the privileges and,
    with ``mydumper.keep-definer``, the definers too unless ``check-requirements = false``. They run again,
    in the full report, in ``precheck``.
    """
    config = env.config
    source = env.source
    facts = env.prepared.facts
    items: list[CheckItem] = []
    conn = env.connect()
    try:
        schemas = {t.schema for t in source.tables} | {v.schema for v in source.views}
        catalog = TargetCatalog(conn, schemas, case_insensitive=facts.lower_case_table_names != 0)
        items.append(check_existing_objects(catalog, source, config))
        if config.lightning.check_requirements:
            privileges = check_privileges(conn, config, source, facts, env.settings)
            items += [i for i in privileges if i.severity == CRITICAL]
            if config.mydumper.keep_definer and source.views:
                items.append(check_definers(conn, env.storage, source, config, facts))
    finally:
        conn.close()
    report = PrecheckReport(tuple(items))
    if report.failed:
        raise PrecheckFailed("prechecks failed (before the schema was created):\n" + report.render())
    return report


# --- checkpoints -----------------------------------------------------------------------------------------


def check_checkpoints(
    store: CheckpointStore, source: DataSource, config: Any, *, source_url: str, target: ConnectionSettings
) -> CheckItem:
    """The stored checkpoints belong to this import and can be resumed (Lightning's CHECK_CHECKPOINTS).

    Critical: the task checkpoint names another source, target or backend; a table is in an error state
    (status <= 25); a table's input changed since its checkpoint (its fingerprint differs). A checkpoint of
    a table that is no longer in the source is a warning.
    """
    name = "checkpoints"
    task = store.get_task()
    stored = store.table_names()
    if task is None and not stored:
        return _passed(name, f"no checkpoints in {store.description}: a fresh import")
    problems: list[str] = []
    commands: list[str] = []
    backend = str(config.tikv_importer.backend)
    if task is not None:
        differences = []
        if task.source_url != source_url:
            differences.append(f"the source is {source_url}, the checkpoint's {task.source_url}")
        if (task.target_host, task.target_port) != (target.host, target.port):
            differences.append(
                f"the target is {target.address}, the checkpoint's {task.target_host}:{task.target_port}"
            )
        if task.backend != backend:
            differences.append(f"tikv-importer.backend is '{backend}', the checkpoint's '{task.backend}'")
        if differences:
            problems.append(
                f"the checkpoints in {store.description} belong to another import: " + "; ".join(differences)
            )
            commands.append(
                "resume with the original configuration, or start over with `lightning ctl checkpoint-remove all` "
                "(and drop the tables it imported)"
            )
    tables = {table_key(t.schema, t.name): t for t in source.tables}
    options = plan_options(config)
    stale = []
    for table_name in stored:
        checkpoint = store.get_table(table_name)
        if checkpoint is None:
            continue
        table = tables.get(table_name)
        if table is None:
            stale.append(table_name)
            continue
        failure = _checkpoint_failure(checkpoint)
        if failure is not None:
            problems.append(f"table {table_name} failed in an earlier run ({failure})")
            commands.append(_error_commands(table_name, checkpoint))
            continue
        if checkpoint.fingerprint and checkpoint.fingerprint != table_fingerprint(table, options):
            problems.append(
                f"the input of table {table_name} changed since its checkpoint was made ({_changes(checkpoint, table)})"
            )
            commands.append(
                f"{table_name}: put the original files back to resume, or import it anew: empty the table "
                f"(TRUNCATE TABLE) and run `lightning ctl checkpoint-remove {_shell(table_name)}`"
            )
    if problems:
        text = "\n".join(
            problems[:_SHOWN] + ([f"... and {len(problems) - _SHOWN} more"] if len(problems) > _SHOWN else [])
        )
        advice = "\n".join(dict.fromkeys(commands))
        return CheckItem(
            name, CRITICAL, False, text, advice + "\n(add the import's -c CONFIG, or --source and --target)"
        )
    if stale:
        return CheckItem(
            name,
            WARNING,
            False,
            f"checkpoints of tables that are not in the source (any more): {_listing(stale)}",
            f"forget them with `lightning ctl checkpoint-remove {_shell(stale[0])}` (one per table)",
        )
    resumable = len([n for n in stored if n in tables])
    return _passed(name, f"tables resuming from {store.description}: {resumable}")


def _checkpoint_failure(checkpoint: TableCheckpoint) -> str | None:
    """The error state of a table checkpoint or of one of its engines, described; None if there is none."""
    statuses = [checkpoint.status] + [e.status for e in checkpoint.engines]
    for status in statuses:
        if status != CheckpointStatus.MISSING and is_error_status(status):
            return describe_status(status)
    return None


def _error_commands(table_name: str, checkpoint: TableCheckpoint) -> str:
    ignore = f"`lightning ctl checkpoint-error-ignore {_shell(table_name)}`"
    destroy = f"`lightning ctl checkpoint-error-destroy {_shell(table_name)}`"
    statuses = [checkpoint.status] + [e.status for e in checkpoint.engines]
    failed_step = min(s for s in statuses if s != CheckpointStatus.MISSING and is_error_status(s)) * 10
    if failed_step == CheckpointStatus.CHECKSUMMED:
        return (
            f"{table_name}: its rows differ from the source: {destroy} drops it so that the next run imports it "
            f"again; {ignore} only runs the checksum again"
        )
    return (
        f"{table_name}: fix the cause, then {ignore} to continue where it stopped (nothing is sent twice), or "
        f"{destroy} to drop it and start it over"
    )


def _changes(checkpoint: TableCheckpoint, table: TableSource) -> str:
    before = {(c.path, c.file_size) for c in checkpoint.chunks}
    now = {(f.path, f.size) for f in table.data_files}
    changes = [f"{p} is new or changed" for p, _ in sorted(now - before)]
    changes += [f"{p} is gone" for p, _ in sorted(before - now) if p not in {q for q, _ in now}]
    return "; ".join(changes[:5]) or "its files' versions or the options that shape the import changed"


def _shell(name: str) -> str:
    return shlex.quote(name)


# --- the source's tables ---------------------------------------------------------------------------------


def check_tables_exist(source: DataSource, catalog: TargetCatalog, config: Any) -> CheckItem:
    """Every table with data files exists in the target, or has a schema file the import creates it from."""
    name = "data files have tables"
    missing, views = [], []
    for table in source.tables:
        if not table.data_files:
            continue
        found = catalog.get(table.schema, table.name)
        key = table_key(table.schema, table.name)
        if found is None:
            if table.schema_file is None or config.mydumper.no_schema:
                missing.append(key)
        elif found.is_view:
            views.append(key)
    if not missing and not views:
        count = sum(1 for t in source.tables if t.data_files)
        return _passed(
            name, f"every table with data files ({count}) exists in the target or has a schema file"
        )
    problems = []
    if missing:
        why = (
            " (mydumper.no-schema = true: the import creates no tables)" if config.mydumper.no_schema else ""
        )
        problems.append(
            f"no table in the target and no schema file in the source for {_listing(missing)}{why}"
        )
    if views:
        problems.append(f"{_listing(views)} are views in the target; data cannot be imported into a view")
    return CheckItem(
        name,
        CRITICAL,
        False,
        "\n".join(problems),
        "add the -schema.sql files to the source, or create the tables in the target first; route data files "
        "away from views ([[routes]] or [[mydumper.files]])",
    )


def check_unmatched_files(source: DataSource) -> CheckItem:
    """Files no ``[[mydumper.files]]`` rule or naming rule matched: skipped, which may not be intended."""
    name = "unmatched files"
    if not source.unmatched:
        return _passed(name, "every file matched a rule", WARNING)
    return CheckItem(
        name,
        WARNING,
        False,
        f"files that match no rule are not imported ({len(source.unmatched)}): "
        + _listing(list(source.unmatched), 5),
        "rename them the way mydumper/Dumpling name files, add [[mydumper.files]] rules, or remove them",
    )


def check_source_layout(source: DataSource) -> CheckItem:
    """What discovering the source found odd (several schema files for one table, ...)."""
    return CheckItem(
        "source layout",
        WARNING,
        False,
        "\n".join(source.warnings[:_SHOWN]),
        "remove the extra files, or set [[mydumper.files]] rules that pick the right ones",
    )


def check_tables_empty(
    conn: Any, source: DataSource, catalog: TargetCatalog, config: Any, resuming: set[str]
) -> CheckItem:
    """Target tables that will receive rows are empty (Lightning's CHECK_TARGET_TABLE_EMPTY).

    Tables this import has checkpoints for are resuming and skipped. Rows already there are a critical
    failure under ``[conflict] strategy = "error"``, a warning when ``replace`` / ``ignore`` or
    ``parallel-import`` say that merging into them is intended.
    """
    name = "target tables empty"
    non_empty = []
    checked = 0
    for table in source.tables:
        key = table_key(table.schema, table.name)
        found = catalog.get(table.schema, table.name)
        if key in resuming or not table.data_files or found is None or found.is_view:
            continue
        checked += 1
        with conn.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {qualified_name(found.schema, found.name)} LIMIT 1")
            if cur.fetchone() is not None:
                non_empty.append(key)
    if not non_empty:
        return _passed(
            name,
            f"the target tables that receive rows are empty ({checked} checked"
            + (f", {len(resuming)} resuming)" if resuming else ")"),
        )
    strategy = str(config.conflict.strategy)
    merging = strategy in ("replace", "ignore") or config.tikv_importer.parallel_import
    what = f"{_listing(non_empty)} already hold rows"
    if merging:
        how = f"[conflict] strategy = {strategy}" if strategy in ("replace", "ignore") else "parallel-import"
        return CheckItem(
            name,
            WARNING,
            False,
            f"{what}; the import merges into them ({how})",
            "nothing, if merging is intended; the checksum then covers the rows that were there before",
        )
    return CheckItem(
        name,
        CRITICAL,
        False,
        what,
        'empty them (TRUNCATE TABLE), or set [conflict] strategy = "replace" or "ignore" to merge into them',
    )


def check_transactional_engines(
    conn: Any, catalog: TargetCatalog, source: DataSource, task_info_schema: str
) -> CheckItem:
    """Target tables and the progress markers use an engine that rolls back (InnoDB; not MyISAM or Aria).

    A batch is one transaction with its progress marker: on an engine without transactions a failed or
    interrupted batch leaves part of its rows behind, and a resume sends them again.
    """
    name = "transactional engines"
    plain = []
    for table in source.tables:
        found = catalog.get(table.schema, table.name)
        if not table.data_files or found is None or found.is_view:
            continue
        if catalog.transactional(found.engine) is False:
            plain.append(f"{table_key(found.schema, found.name)} ({found.engine})")
    markers = ""
    if task_info_schema:
        existing = [t for t in catalog.tables_in(task_info_schema) if not t.is_view]
        if existing:
            engines = sorted({t.engine for t in existing if catalog.transactional(t.engine) is False})
            if engines:
                markers = f"the task-info tables in `{task_info_schema}` use {', '.join(engines)}"
        else:
            with conn.cursor() as cur:
                cur.execute("SELECT @@SESSION.default_storage_engine")
                default = _text(cur.fetchone()[0])
            if catalog.transactional(default) is False:
                markers = f"the task-info tables would be created with default_storage_engine = {default}"
    if not plain and not markers:
        return _passed(name, "the target tables and the progress markers roll back", WARNING)
    lines = []
    if plain:
        lines.append(
            f"{_listing(plain)} cannot roll back a batch: after a crash or a failed batch, resuming may write "
            "some of its rows twice (exact resume is not guaranteed for them)"
        )
    if markers:
        lines.append(f"{markers}: progress markers that cannot roll back make no resume exact")
    return CheckItem(
        name,
        WARNING,
        False,
        "\n".join(lines),
        "ALTER TABLE ... ENGINE = InnoDB before importing (or after, if exactness on resume does not matter)",
    )


# --- schema and data files -------------------------------------------------------------------------------


def check_schema_files(storage: Storage, source: DataSource, config: Any, *, workers: int = 4) -> CheckItem:
    """Every schema file parses (reports each broken one with its offset and line, not only the first)."""
    name = "schema files"
    jobs: list[tuple[SourceFile, str]] = []
    for db in source.databases:
        if db.schema_file is not None:
            jobs.append((db.schema_file, "database"))
        jobs.extend((t.schema_file, "table") for t in db.tables if t.schema_file is not None)
        jobs.extend((v.schema_file, "view") for v in db.views)
    charset = config.mydumper.character_set

    def parse(job: tuple[SourceFile, str]) -> str | None:
        file, kind = job
        try:
            data = read_whole_file(
                storage, file.path, file.compression, limit=MAX_SCHEMA_FILE_SIZE, what="schema file"
            )
            parse_schema_file(data, path=file.path, kind=kind, charset=charset)  # type: ignore[arg-type]
        except (SourceError, LightningError) as exc:
            return str(exc)
        return None

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="precheck-schema") as pool:
        broken = [error for error in pool.map(parse, jobs) if error]
    if not broken:
        return _passed(name, f"every schema file ({len(jobs)}) parses")
    shown = broken[:_SHOWN] + ([f"... and {len(broken) - _SHOWN} more"] if len(broken) > _SHOWN else [])
    return CheckItem(
        name,
        CRITICAL,
        False,
        f"{len(broken)} of {len(jobs)} schema files cannot be read:\n" + "\n".join(shown),
        "fix or re-dump these files; each message names the byte offset and line where reading stopped",
    )


@dataclass(frozen=True, slots=True)
class FileProbe:
    """What the start of one data file showed.

    ``error``: it cannot be opened, decompressed or (CSV header, Parquet magic) read at its start.
    ``header``: the CSV header's names (``header = true``). ``first_row``: the CSV file's first row
    (``header = false``, for the header detection), when it could be read.
    """

    file: SourceFile
    table: TableSource
    error: str | None = None
    header: tuple[str, ...] | None = None
    first_row: tuple[bytes | None, ...] | None = None


def probe_data_files(
    storage: Storage, source: DataSource, config: Any, *, workers: int = 4
) -> list[FileProbe]:
    """Read the first block of every data file (through decompression), a few threads at a time.

    CSV files also give their header (``header = true``) or, for the first two CSV files of each table,
    their first row (``header = false``).
    """
    dialect = None
    jobs: list[tuple[SourceFile, TableSource, bool]] = []
    for table in source.tables:
        first_rows = 0
        for file in table.data_files:
            want_row = False
            if file.type == SourceType.CSV and not config.mydumper.csv.header and first_rows < 2:
                want_row, first_rows = True, first_rows + 1
            jobs.append((file, table, want_row))
    if any(f.type == SourceType.CSV for f, _, _ in jobs):
        dialect = csv_dialect(config)

    def probe(job: tuple[SourceFile, TableSource, bool]) -> FileProbe:
        file, table, want_row = job
        try:
            with open_source_file(
                storage, file.path, file.compression, 0, block_size=FIRST_BLOCK_SIZE
            ) as stream:
                if file.type == SourceType.CSV and dialect is not None and (dialect.header or want_row):
                    return _probe_csv(stream, file, table, dialect, want_row)
                start = stream.read(FIRST_BLOCK_SIZE)
            if file.type == SourceType.PARQUET and start[:4] != b"PAR1":
                return FileProbe(file, table, f"{file.path} at byte 0: not a Parquet file (no 'PAR1' magic)")
        except SourceError as exc:
            return FileProbe(file, table, str(exc))
        return FileProbe(file, table)

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="precheck-file") as pool:
        return list(pool.map(probe, jobs))


def _probe_csv(stream: Any, file: SourceFile, table: TableSource, dialect: Any, want_row: bool) -> FileProbe:
    if dialect.header:
        try:
            parser = CsvParser(
                stream,
                dialect,
                path=file.path,
                read_header=True,
                block_size=FIRST_BLOCK_SIZE,
                max_row_size=FIRST_ROW_LIMIT,
            )
        except ParseError as exc:
            return FileProbe(file, table, f"{exc} (reading the header line, [mydumper.csv] header = true)")
        header = parser.read_header()
        return FileProbe(file, table, header=tuple(header) if header is not None else None)
    parser = CsvParser(
        stream,
        dialect,
        path=file.path,
        read_header=False,
        block_size=FIRST_BLOCK_SIZE,
        max_row_size=FIRST_ROW_LIMIT,
    )
    try:
        first = next(parser.iter_rows(), None)
    except ParseError:
        return FileProbe(file, table)  # the import reports it with full context; a header is not this
    return FileProbe(file, table, first_row=tuple(first[0]) if first is not None else None)


def check_files_readable(probes: Sequence[FileProbe]) -> CheckItem:
    """Every data file opens and decompresses at its start (a truncated end shows only when it is read)."""
    name = "data files readable"
    broken = [p.error for p in probes if p.error]
    if not broken:
        return _passed(name, f"every data file ({len(probes)}) opens and decompresses at its start")
    shown = broken[:_SHOWN] + ([f"... and {len(broken) - _SHOWN} more"] if len(broken) > _SHOWN else [])
    return CheckItem(
        name,
        CRITICAL,
        False,
        f"{len(broken)} of {len(probes)} data files cannot be read:\n" + "\n".join(shown),
        "copy these files again from their origin (or fix the file permissions / compression extension)",
    )


def check_csv_headers(
    probes: Sequence[FileProbe], catalog: TargetCatalog, config: Any, *, strict_sql_mode: bool = True
) -> list[CheckItem]:
    """CSV headers against the target's columns (``header = true``), or an undeclared header (``false``)."""
    csv = config.mydumper.csv
    if not any(p.file.type == SourceType.CSV for p in probes):
        return []
    if csv.header:
        if not csv.header_schema_match:
            return [
                _passed("CSV header", "header-schema-match = false: headers are skipped, columns go in order")
            ]
        return [check_header_columns(probes, catalog, strict_sql_mode=strict_sql_mode)]
    return [check_header_detection(probes, catalog)]


def check_header_columns(
    probes: Sequence[FileProbe], catalog: TargetCatalog, *, strict_sql_mode: bool = True
) -> CheckItem:
    """Every name in a CSV header is a writable column of its table; columns left out have defaults."""
    name = "CSV header"
    wrong: list[str] = []
    no_default: list[str] = []
    checked = 0
    for probe in probes:
        if probe.header is None or probe.error:
            continue
        info = catalog.info(probe.table.schema, probe.table.name)
        if info is None:
            continue
        checked += 1
        where = f"{probe.file.path} (table {table_key(info.schema, info.name)})"
        unknown = [n for n in probe.header if info.column(n) is None]
        generated = [n for n in probe.header if (c := info.column(n)) is not None and c.generated]
        if unknown:
            wrong.append(f"{where}: no column {', '.join(repr(n) for n in unknown[:5])}")
        if generated:
            wrong.append(f"{where}: {', '.join(repr(n) for n in generated[:5])} generated, cannot be written")
        named = {n.lower() for n in probe.header}
        left_out = [c.name for c in info.columns if c.name.lower() not in named and _needs_value(c)]
        if left_out:
            no_default.append(f"{where}: {', '.join(left_out[:5])}")
    if wrong:
        return CheckItem(
            name,
            CRITICAL,
            False,
            "header names that are not columns of the table:\n" + "\n".join(wrong[:_SHOWN]),
            "fix the header lines or the table's schema, or set [mydumper.csv] header-schema-match = false to "
            "ignore the names and take the columns in order",
        )
    if no_default:
        text = "columns the files leave out that are NOT NULL without a default:\n" + "\n".join(
            no_default[:_SHOWN]
        )
        if strict_sql_mode:
            return CheckItem(
                name,
                CRITICAL,
                False,
                text + "\nin strict sql_mode every row fails",
                "add the columns to the files, or give them a DEFAULT in the target, or write a [tidb] "
                "sql-mode without STRICT_TRANS_TABLES / STRICT_ALL_TABLES (e.g. Lightning's default "
                "'ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER'): the columns then get their type's implicit "
                "default (0, '')",
            )
        return CheckItem(
            name,
            WARNING,
            False,
            text + "\nthey get their type's implicit default (0, '')",
            "add the columns to the files, or give them a DEFAULT in the target",
        )
    return _passed(name, f"every CSV header names columns of its table ({checked} files)")


def _needs_value(column: ColumnInfo) -> bool:
    return (
        not column.nullable and column.default is None and not column.auto_increment and not column.generated
    )


def check_header_detection(probes: Sequence[FileProbe], catalog: TargetCatalog) -> CheckItem:
    """With ``header = false``, a first row that names the table's columns is probably a header
    (Lightning's CHECK_CSV_HEADER).

    Warning; critical where Lightning is sure: two files start with the same row and it names a column of
    a unique key (the second copy would collide), or the row's values cannot be stored in the columns
    they would land in.
    """
    name = "CSV header"
    by_table: dict[str, list[FileProbe]] = defaultdict(list)
    for probe in probes:
        if probe.first_row is not None:
            by_table[table_key(probe.table.schema, probe.table.name)].append(probe)
    suspects: list[tuple[str, bool]] = []
    for key, table_probes in sorted(by_table.items()):
        rows = [p.first_row for p in table_probes if p.first_row]
        if not rows or (len(rows) >= 2 and rows[0] != rows[1]):
            continue
        info = catalog.info(table_probes[0].table.schema, table_probes[0].table.name)
        if info is None:
            continue
        values = [_header_text(v) for v in rows[0]]
        columns = {c.name.lower() for c in info.columns}
        if not values or any(v is None or v.lower() not in columns for v in values):
            continue
        unique = {c.lower() for c in info.primary_key} | {c.lower() for k in info.unique_keys for c in k}
        sure = (len(rows) >= 2 and any(v.lower() in unique for v in values)) or not all(
            _could_store(v, c) for v, c in zip(values, info.insertable_columns)
        )
        suspects.append((f"{key} ({table_probes[0].file.path})", sure))
    if not suspects:
        return _passed(name, "header = false, and no CSV file starts with a row of column names")
    severity = CRITICAL if any(sure for _, sure in suspects) else WARNING
    return CheckItem(
        name,
        severity,
        False,
        "source CSV files seem to start with a header row, but [mydumper.csv] header = false: "
        + _listing([s for s, _ in suspects]),
        "set [mydumper.csv] header = true (or remove the header lines); otherwise the header is imported as a row",
    )


def _header_text(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_NUMERIC_TYPES = {
    "tinyint",
    "smallint",
    "mediumint",
    "int",
    "integer",
    "bigint",
    "decimal",
    "numeric",
    "float",
    "double",
    "real",
    "year",
    "bit",
}
_TEMPORAL_TYPES = {"date", "datetime", "timestamp", "time"}


def _could_store(text: str, column: ColumnInfo) -> bool:
    """Whether a strict server would store ``text`` in ``column`` (roughly: the header check's sense)."""
    kind = column.data_type
    if kind in _NUMERIC_TYPES:
        return _NUMBER.fullmatch(text) is not None
    if kind in _TEMPORAL_TYPES:
        return any(ch.isdigit() for ch in text)
    if kind in ("enum", "set"):
        members = re.findall(r"'((?:[^']|'')*)'", column.column_type)
        return text.lower() in {m.replace("''", "'").lower() for m in members}
    if kind == "json":
        return False  # a column name is never a JSON document
    if column.char_max_length is not None:
        return len(text) <= column.char_max_length
    return True


def _is_strict(sql_mode: str) -> bool:
    modes = {m.strip().upper() for m in sql_mode.split(",")}
    return bool(modes & {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "TRADITIONAL"})


# --- sizes -----------------------------------------------------------------------------------------------


def check_large_files(
    source: DataSource, config: Any, *, threshold: int = LARGE_FILE_THRESHOLD
) -> list[CheckItem]:
    """Large files that cannot be split (Lightning's CHECK_LARGE_DATA_FILES), and ``strict-format`` sense.

    A file above ``threshold`` that stays one chunk is read by one worker start to end: a plain CSV file
    without ``strict-format``, any compressed file, any SQL or Parquet file.
    """
    mydumper = config.mydumper
    strict = mydumper.strict_format
    large: list[str] = []
    advice: list[str] = []
    tiny_regions: list[str] = []
    for table in source.tables:
        for file in table.data_files:
            splittable = file.type == SourceType.CSV and file.compression == Compression.NONE and strict
            if splittable and file.size > mydumper.max_region_size * _SPLIT_FACTOR:
                chunks = file.size // max(1, mydumper.max_region_size)
                if chunks > MAX_CHUNKS_PER_FILE:
                    tiny_regions.append(f"{file.path} ({chunks} chunks)")
            if splittable or file.size <= threshold:
                continue
            large.append(f"{file.path} ({format_bytes(file.size)})")
            if file.compression != Compression.NONE:
                advice.append(
                    "compressed files are never split: store them uncompressed, or dump smaller files"
                )
            elif file.type == SourceType.CSV:
                advice.append(
                    "set [mydumper] strict-format = true if no quoted field holds a line terminator, so that "
                    "CSV files are cut at max-region-size"
                )
            else:
                advice.append(
                    "SQL and Parquet files are never split: dump smaller files (mydumper/Dumpling -F)"
                )
    items = []
    if large:
        items.append(
            CheckItem(
                "large data files",
                WARNING,
                False,
                f"files over {format_bytes(threshold)} that cannot be split ({len(large)}) are each read by one "
                f"worker, which slows the import down: {_listing(large, 5)}",
                "\n".join(dict.fromkeys(advice)),
            )
        )
    else:
        items.append(
            _passed(
                "large data files",
                f"no data file over {format_bytes(threshold)} that cannot be split",
                WARNING,
            )
        )
    if strict:
        if not mydumper.csv.terminator:
            items.append(
                CheckItem(
                    "strict-format",
                    CRITICAL,
                    False,
                    "mydumper.strict-format cannot be used with an empty mydumper.csv.terminator (as in Lightning): "
                    "a split point must be found without reading the file from its start",
                    "set [mydumper.csv] terminator, e.g. '\\n' or '\\r\\n'",
                )
            )
        elif tiny_regions:
            items.append(
                CheckItem(
                    "strict-format",
                    WARNING,
                    False,
                    f"max-region-size = {format_bytes(mydumper.max_region_size)} cuts files into more than "
                    f"{MAX_CHUNKS_PER_FILE} chunks each, which makes checkpoints large: {_listing(tiny_regions, 5)}",
                    "raise [mydumper] max-region-size (Lightning's default is 256 MiB)",
                )
            )
        else:
            items.append(
                _passed(
                    "strict-format",
                    f"plain CSV files over {format_bytes(int(mydumper.max_region_size * _SPLIT_FACTOR))} are cut into "
                    f"chunks of about max-region-size ({format_bytes(mydumper.max_region_size)})",
                )
            )
    return items


def check_row_sizes(
    storage: Storage,
    source: DataSource,
    config: Any,
    max_allowed_packet: int,
    catalog: TargetCatalog | None = None,
    *,
    sample_bytes: int = ROW_SAMPLE_BYTES,
    max_files: int = ROW_SAMPLE_FILES,
    workers: int = 4,
) -> CheckItem:
    """No row is too large for one statement within the server's ``max_allowed_packet``.

    The logical backend cuts batches to fit the packet, so only a single row larger than it can fail. A
    plain file whose worst-case statement is smaller than the packet cannot hold one (SQL rows travel as
    written; a CSV row renders to at most three times its size). Of the other files, the largest of each
    table is sampled — rows starting in its first ``sample_bytes``, at most ``max_files`` files — with
    the import's parsers. Parquet files are not sampled.
    """
    name = "max_allowed_packet"
    dialect = (
        csv_dialect(config)
        if any(f.type == SourceType.CSV for t in source.tables for f in t.data_files)
        else None
    )
    picks: list[tuple[SourceFile, TableSource, int]] = []
    for table in source.tables:
        # Most files fit even with the longest column list a table can have: no catalogue query for them.
        bound = _statement_overhead(table, None) + _LONGEST_COLUMN_LIST
        rows = [f for f in table.data_files if f.type in (SourceType.SQL, SourceType.CSV)]
        if all(_fits_by_size(f, max_allowed_packet, bound) for f in rows):
            continue
        overhead = _statement_overhead(table, catalog)
        candidates = [f for f in rows if not _fits_by_size(f, max_allowed_packet, overhead)]
        if candidates:
            picks.append((max(candidates, key=lambda f: f.size), table, overhead))
    if not picks:
        return _passed(
            name, f"every data file is smaller than max_allowed_packet ({format_bytes(max_allowed_packet)})"
        )
    picks.sort(key=lambda p: -p[0].size)
    sampled = picks[:max_files]

    def sample(pick: tuple[SourceFile, TableSource, int]) -> tuple[SourceFile, int, int, int, str | None]:
        file, _, overhead = pick
        try:
            largest, at = _largest_row(storage, file, dialect, max_allowed_packet - overhead, sample_bytes)
        except (SourceError, LightningError) as exc:
            return file, overhead, 0, 0, str(exc)
        return file, overhead, largest, at, None

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="precheck-rows") as pool:
        results = list(pool.map(sample, sampled))
    too_big, broken = [], []
    need = 0
    largest_seen = 0
    for file, overhead, largest, at, error in results:
        if error:
            broken.append(error)
            continue
        largest_seen = max(largest_seen, largest)
        if largest + overhead > max_allowed_packet:
            measured = largest <= _sample_row_limit(max_allowed_packet - overhead)
            size = f"of {format_bytes(largest)} ({largest} bytes)" if measured else (
                f"longer than {format_bytes(largest - 1)} ({largest - 1} bytes; read no further)"
            )
            too_big.append(f"{file.path} at byte {at}: a row {size} does not fit in one statement")
            need = max(need, largest + overhead)
    scope = (
        f"sampled the first {format_bytes(sample_bytes)} of {len(sampled)} file(s) larger than the packet"
        + (f" (of {len(picks)} tables with such files)" if len(picks) > len(sampled) else "")
    )
    if too_big or broken:
        lines = [
            f"max_allowed_packet is {max_allowed_packet} bytes ({format_bytes(max_allowed_packet)}); {scope}:"
        ]
        lines += too_big[:_SHOWN] + broken[:_SHOWN]
        advice = []
        if too_big:
            wanted = min(MAX_PACKET_LIMIT, -(-need // (1024 * 1024)) * 1024 * 1024)
            if need > MAX_PACKET_LIMIT:
                advice.append(
                    "a row over 1 GiB cannot be sent at all: split its value, or leave the table out"
                )
            else:
                advice.append(
                    f"raise max_allowed_packet on the server, e.g. SET GLOBAL max_allowed_packet = {wanted}; "
                    "(and in its config file), then run the import again: new connections use it"
                )
        if broken:
            advice.append(
                "fix or re-dump the files that cannot be parsed; each message names the byte offset"
            )
        return CheckItem(name, CRITICAL, False, "\n".join(lines), "\n".join(advice))
    return _passed(
        name,
        f"{scope}; the largest row is {format_bytes(largest_seen)}, within max_allowed_packet "
        f"({format_bytes(max_allowed_packet)}); rows further in are checked as they are imported",
    )


# 4096 columns (the most a table has) of 64-character names, quoted (backquotes doubled), with commas.
_LONGEST_COLUMN_LIST = 4096 * (2 * 64 + 3)


def _statement_overhead(table: TableSource, catalog: TargetCatalog | None) -> int:
    """Bytes of ``REPLACE INTO `db`.`t` (`c1`, ...) VALUES `` plus a margin: what a row is sent inside."""
    info = catalog.info(table.schema, table.name) if catalog is not None else None
    columns = sum(len(quote_identifier(c.name)) + 1 for c in info.columns) if info else 0
    return (
        len("REPLACE INTO  () VALUES ")
        + len(qualified_name(table.schema, table.name))
        + columns
        + STATEMENT_MARGIN
    )


def _fits_by_size(file: SourceFile, packet: int, overhead: int) -> bool:
    """A plain file so small that no row of it can overflow a statement (compressed sizes prove nothing)."""
    if file.compression != Compression.NONE:
        return False
    worst = file.size if file.type == SourceType.SQL else 3 * file.size + 2  # '' for each empty CSV field
    return worst + overhead <= packet


def _largest_row(
    storage: Storage, file: SourceFile, dialect: Any, room: int, sample_bytes: int
) -> tuple[int, int]:
    """(size, start offset) of the largest row starting in the first ``sample_bytes`` of ``file``, as sent."""
    # A row longer than the room cannot be sent whatever it holds: the parsers stop soon after (rows up to
    # 1 MiB are still measured, for the advice) rather than buffer a giant or unterminated literal up to
    # their own, larger limit.
    limit = {
        "max_row_size": _sample_row_limit(room),
        "max_row_size_source": "max_allowed_packet less the INSERT around the row: it cannot be sent",
    }
    with open_source_file(storage, file.path, file.compression, 0) as opened:
        # Rows starting in the sample are read whole, but no further: a row that started there and has not
        # ended by the window's end is too long for the parser anyway, and what lies beyond (megabytes of
        # comments, say) is not sampled.
        stream = _SampleWindow(opened, sample_bytes + 2 * limit["max_row_size"] + 1024 * 1024)
        try:
            return _largest_in(stream, file, dialect, room, sample_bytes, limit)
        except _SampleWindow.End:
            return stream.largest
        except ParseError as exc:
            if limit["max_row_size_source"] not in exc.reason:
                raise
            # A row the parser stopped reading: longer than its limit, which is longer than the room.
            return limit["max_row_size"] + 1, exc.offset or 0


def _sample_row_limit(room: int) -> int:
    return max(room + 1, 1024 * 1024)


def _largest_in(
    stream: Any, file: SourceFile, dialect: Any, room: int, sample_bytes: int, limit: dict[str, Any]
) -> tuple[int, int]:
    largest, at = 0, 0
    if file.type == SourceType.SQL:
        # An SQL row travels as written: from its '(' to its ')'.
        for raw, end in SqlParser(stream, path=file.path, **limit).iter_raw_rows():
            if len(raw) > largest:
                largest, at = len(raw), end - len(raw)
                stream.largest = (largest, at)
            if end >= sample_bytes:
                break
    else:
        parser = CsvParser(stream, dialect, path=file.path, **limit)
        start = parser.data_start
        for values, end in parser.iter_rows():
            # A CSV row is rendered as SQL literals; only rows that might not fit are rendered to measure.
            size = end - start
            if 3 * size + 2 > room:
                size = len(render_row(values))
            if size > largest:
                largest, at = size, start
                stream.largest = (largest, at)
            if end >= sample_bytes:
                break
            start = end
    return largest, at


class _SampleWindow:
    """A stream that ends the sampling (raises :class:`End`) once ``limit`` bytes have been read."""

    class End(Exception):  # noqa: N818 - not an error: the sample is complete
        pass

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream = stream
        self._left = limit
        self.largest = (0, 0)  # (size, offset) of the largest row so far

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise self.End
        data = self._stream.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        return data


# --- the physical backend's local disk -------------------------------------------------------------------


def check_sorted_kv_dir(config: Any, source: DataSource, source_url: str) -> list[CheckItem]:
    """For the physical backend: free space in ``sorted-kv-dir`` (Lightning's CHECK_LOCAL_TEMP_KV_DIR) and
    whether it shares a disk with a local source (CHECK_LOCAL_DISK_PLACEMENT)."""
    directory = Path(config.tikv_importer.sorted_kv_dir).expanduser()
    existing = _existing_parent(directory)
    available = shutil.disk_usage(existing).free
    files = [f for t in source.tables for f in t.data_files]
    needed = sum(f.size for f in files)
    compressed = any(f.compression != Compression.NONE for f in files)
    items = [
        sorted_kv_space(
            needed,
            available,
            config.tikv_importer.disk_quota,
            compressed=compressed,
            directory=str(directory),
        )
    ]
    local_source = Path(source_url)
    if local_source.is_dir():
        same = os.stat(local_source).st_dev == os.stat(existing).st_dev
        if same:
            items.append(
                CheckItem(
                    "sorted-kv-dir placement",
                    WARNING,
                    False,
                    f"sorted-kv-dir {directory} and the data source {local_source} are on the same disk, which may "
                    "slow the import down",
                    "put sorted-kv-dir on another (fast, local) disk",
                )
            )
        else:
            items.append(
                _passed(
                    "sorted-kv-dir placement",
                    "sorted-kv-dir and the data source are on different disks",
                    WARNING,
                )
            )
    return items


def sorted_kv_space(
    needed: int,
    available: int,
    disk_quota: int,
    *,
    compressed: bool = False,
    directory: str = "sorted-kv-dir",
) -> CheckItem:
    """Lightning's rule: enough room passes; a ``disk-quota`` above what is free fails; otherwise the import
    runs within the quota (slower). Critical, but only a warning when compressed files make ``needed``
    (the source's stored size) an underestimate."""
    name = "sorted-kv-dir space"
    severity = WARNING if compressed else CRITICAL
    if available > needed:
        return CheckItem(
            name,
            severity,
            True,
            f"{directory} has {format_bytes(available)} free for about {format_bytes(needed)} of sorted data",
        )
    if disk_quota > available:
        return CheckItem(
            name,
            severity,
            False,
            f"{directory} has {format_bytes(available)} free, but the sorted data needs about {format_bytes(needed)}",
            f"set [tikv-importer] disk-quota below {format_bytes(available)}, or point sorted-kv-dir at a disk with "
            "more room",
        )
    return CheckItem(
        name,
        severity,
        True,
        f"{directory} has {format_bytes(available)} free for about {format_bytes(needed)}: the import runs within "
        f"disk-quota ({format_bytes(disk_quota)}), which may slow it down",
    )


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


__all__ = [
    "CRITICAL",
    "WARNING",
    "CheckItem",
    "FileProbe",
    "Grants",
    "PrecheckReport",
    "PrivilegeNeed",
    "TargetCatalog",
    "check_checkpoints",
    "check_csv_headers",
    "check_files_readable",
    "check_header_columns",
    "check_header_detection",
    "check_large_files",
    "check_privileges",
    "check_row_sizes",
    "check_schema_files",
    "check_server_version",
    "check_sorted_kv_dir",
    "check_source_layout",
    "check_tables_empty",
    "check_tables_exist",
    "check_target_reachable",
    "check_transactional_engines",
    "check_unmatched_files",
    "parse_grant_line",
    "precheck",
    "privilege_needs",
    "probe_data_files",
    "read_grants",
    "sorted_kv_space",
]
