"""Privileges: what ``SHOW GRANTS`` allows (a parser of its lines), what the import needs, and the check.

:func:`privilege_needs` lists every privilege the import (and ``lightning ctl``) uses, on which database or
table and why; :class:`Grants` answers "yes", "no" or "unsure" for each, without guessing where several
database patterns overlap.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pymysql

from airflow_provider_lightning.core.config import BackendKind, Config, ConflictStrategy, KeepAfterSuccess
from airflow_provider_lightning.core.identifiers import qualified_name, quote_identifier
from airflow_provider_lightning.core.errors import LightningError
from airflow_provider_lightning.core.importer.prechecks.report import (
    CRITICAL,
    WARNING,
    CheckItem,
    listing,
    passed_item,
)
from airflow_provider_lightning.core.mydump.loader import DataSource
from airflow_provider_lightning.core.target import (
    ConnectionSettings,
    ServerFacts,
    ServerFlavor,
    mysql_message,
)
from airflow_provider_lightning.core.target import as_text as _text


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

    def held_globally(self, privileges: Iterable[str]) -> bool:
        """Whether a grant ON ``*.*`` gives any of ``privileges`` (``ALL ON `db`.*`` gives no global one)."""
        return any(
            g.schema is None and not g.revoke and _grants(g.privileges, privilege)
            for g in self.grants
            for privilege in privileges
        )


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


def current_user(conn: Any) -> str:
    """``CURRENT_USER()``: the account the server matched the session to, ``user@host``."""
    with conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        return _text(cur.fetchone()[0])


def privilege_needs(config: Config, source: DataSource, settings: ConnectionSettings) -> list[PrivilegeNeed]:
    """Every privilege the import (and ``lightning ctl``) will use, on which database or table, and why."""
    needs: list[PrivilegeNeed] = []
    add = needs.append
    no_schema = config.mydumper.no_schema
    strategy = config.conflict.strategy
    backend = config.tikv_importer.backend
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
        if strategy is ConflictStrategy.REPLACE:
            add(
                PrivilegeNeed(
                    "DELETE",
                    s,
                    t,
                    CRITICAL,
                    "[conflict] strategy = replace writes with REPLACE, which deletes what it replaces",
                )
            )
        if backend is BackendKind.LOCAL:
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
        keep = checkpoint.keep_after_success
        if keep is KeepAfterSuccess.REMOVE:
            add(
                PrivilegeNeed(
                    "DROP",
                    cp,
                    None,
                    CRITICAL,
                    "keep-after-success = remove drops the checkpoint schema after a successful import",
                )
            )
        elif keep is KeepAfterSuccess.RENAME:
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
    conn: Any, config: Config, source: DataSource, facts: ServerFacts, settings: ConnectionSettings
) -> list[CheckItem]:
    """The user may do what the import will do: ``SHOW GRANTS`` against :func:`privilege_needs`.

    SUPER and the ``SET`` privileges are not needed: the import only sets session variables.
    """
    grants = read_grants(conn, facts)
    current = current_user(conn)
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
        items.append(passed_item("privileges", f"{account} may do everything the import does"))
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
        f"  {privilege} on {listing(places, 5)}: {why}" for (privilege, why), places in by_what.items()
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


def definer_privileges(flavor: ServerFlavor) -> tuple[str, ...]:
    """Any one of these lets a user create a view for another definer."""
    if flavor is ServerFlavor.MARIADB:
        return ("SET USER", "SUPER")
    if flavor is ServerFlavor.MYSQL:
        return ("SET_ANY_DEFINER", "SET_USER_ID", "SUPER")
    return ("SUPER",)
