"""What the schema step may touch: objects already in the target, schema files, what they hold, definers.

``restore_schema`` runs :func:`check_schema_files` and, through the registry's ``check_before_schema``,
:func:`check_existing_objects` and :func:`check_definers` before its first DDL.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow_provider_lightning.core.config import Config
from airflow_provider_lightning.core.identifiers import qualified_name
from airflow_provider_lightning.core.errors import LightningError, SourceError
from airflow_provider_lightning.core.importer.prechecks.privileges import (
    current_user,
    definer_privileges,
    read_grants,
)
from airflow_provider_lightning.core.importer.prechecks.report import (
    CRITICAL,
    SHOWN,
    WARNING,
    CheckItem,
    passed_item,
    unreadable_files_item,
)
from airflow_provider_lightning.core.importer.prechecks.target import TargetCatalog
from airflow_provider_lightning.core.mydump.loader import DataSource, SourceFile
from airflow_provider_lightning.core.mydump.schema import (
    SchemaFile,
    SkippedStatement,
    parse_schema_file,
    schema_file_definer,
    statements_not_run,
)
from airflow_provider_lightning.core.storage import (
    MAX_SCHEMA_FILE_SIZE,
    Storage,
    open_source_file,
    read_whole_file,
)
from airflow_provider_lightning.core.target import ServerFacts


def check_existing_objects(catalog: TargetCatalog, source: DataSource, config: Config) -> CheckItem:
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
        return passed_item(
            name, "no table or view of the target is of another kind than the dump's of its name"
        )
    return CheckItem(
        name,
        CRITICAL,
        False,
        f"{len(clashes)} objects of the target would have to be replaced by another kind:\n"
        + "\n".join(f"  {c}" for c in clashes[:SHOWN])
        + (f"\n  ... and {len(clashes) - SHOWN} more" if len(clashes) > SHOWN else ""),
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
    storage: Storage, source: DataSource, config: Config, *, workers: int = 4
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
        return passed_item(name, message, WARNING)
    lines = [f"  {path} line {s.statement.line}: {s.what}" for path, s in listed[:SHOWN]]
    if len(listed) > SHOWN:
        lines.append(f"  ... and {len(listed) - SHOWN} more")
    return CheckItem(
        name,
        WARNING,
        False,
        f"{len(listed)} statements of schema files are not run (only CREATE DATABASE / TABLE / VIEW is)"
        f"{design_note}:\n" + "\n".join(lines),
        "nothing but the CREATE of a schema file ever runs; if you need what these statements do (a GRANT, a "
        "trigger, a routine), run them yourself after the import, once you have read them",
    )


def check_definers(
    conn: Any, storage: Storage, source: DataSource, config: Config, facts: ServerFacts
) -> CheckItem:
    """With ``mydumper.keep-definer``: the importing user may create views for the dump's definers."""
    name = "definers"
    charset = config.mydumper.character_set
    user, _, host = current_user(conn).rpartition("@")
    me = f"'{user}'@'{host}'"
    others: list[tuple[str, str]] = []
    for view in source.views:
        parsed = _read_schema_file_quietly(storage, view.schema_file, "view", charset)
        definer = schema_file_definer(parsed) if parsed is not None else None
        # User names are case-sensitive, host names are not.
        if definer is not None and definer != "CURRENT_USER" and not _same_account(definer, me):
            others.append((qualified_name(view.schema, view.name), definer))
    if not others:
        return passed_item(
            name, "mydumper.keep-definer: every view's definer is the importing user (or none is named)"
        )
    grants = read_grants(conn, facts)
    wanted = definer_privileges(facts.flavor)
    # Global privileges: only a grant ON *.* gives them (ALL ON `db`.* does not).
    held = grants.held_globally(wanted)
    shown = ", ".join(f"{view} (DEFINER={definer})" for view, definer in others[:SHOWN])
    if held:
        return passed_item(
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


def check_schema_files(storage: Storage, source: DataSource, config: Config, *, workers: int = 4) -> CheckItem:
    """Every schema file parses (reports each broken one with its offset and line, not only the first)."""
    name = "schema files"
    jobs = _schema_jobs(source)
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
    return unreadable_files_item(
        name,
        "schema",
        broken,
        len(jobs),
        passed="parses",
        advice="fix or re-dump these files; each message names the byte offset and line where reading stopped",
    )
