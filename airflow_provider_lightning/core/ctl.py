"""``lightning ctl``: Lightning's checkpoint maintenance (``tidb-lightning-ctl``), for any checkpoint store.

- ``checkpoint-dump``: the task, its tables, engines and chunks, with statuses and progress (as text, or
  as ``tables.csv``, ``engines.csv`` and ``chunks.csv`` in a folder);
- ``checkpoint-error-ignore <table|all>``: clear the error state, keeping every row imported so far; the
  next run continues each chunk where it stopped. Use it once the cause of the failure is gone;
- ``checkpoint-error-destroy <table|all>``: for each table in an error state, drop the partly imported
  target table and forget its checkpoints, markers and error rows; the next run imports it from scratch;
- ``checkpoint-remove <table|all>``: forget checkpoints (and markers) whatever their state, leaving the
  target table as it is.

The actions work on any :class:`CheckpointStore` (the command line opens a ``file`` or ``mysql`` one; the
Airflow integration brings its own) and reach the target only through a :class:`CtlTarget`, so a store
kept elsewhere plugs in without changes here.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_lightning.core.config import Config
from airflow_provider_lightning.core.backend.progress import ProgressMarkers
from airflow_provider_lightning.core.checkpoints.model import (
    WHOLE_FILE,
    CheckpointStatus,
    ChunkCheckpoint,
    TableCheckpoint,
    describe_status,
    is_error_status,
    table_key,
)
from airflow_provider_lightning.core.checkpoints.store import CheckpointStore
from airflow_provider_lightning.core.identifiers import qualified_name, quote_identifier
from airflow_provider_lightning.core.errormanager import (
    CONFLICT_TABLE,
    COUNTS_TABLE,
    SYNTAX_ERROR_TABLE,
    TYPE_ERROR_TABLE,
)
from airflow_provider_lightning.core.errors import CheckpointError, LightningError, TargetError
from airflow_provider_lightning.core.importer.progress import format_bytes
from airflow_provider_lightning.core.storage import Compression

log = logging.getLogger(__name__)

DUMP = "checkpoint-dump"
ERROR_IGNORE = "checkpoint-error-ignore"
ERROR_DESTROY = "checkpoint-error-destroy"
REMOVE = "checkpoint-remove"
ACTIONS = (DUMP, ERROR_IGNORE, ERROR_DESTROY, REMOVE)
ALL_TABLES = "all"

_QUOTED_TABLE = re.compile(r"`((?:[^`]|``)+)`\.`((?:[^`]|``)+)`")
# Server errors that mean "the schema or table is not there": nothing to clean up in it.
_MISSING = frozenset({1049, 1146})


@dataclass(frozen=True, slots=True)
class CtlTarget:
    """What the actions that touch the target database need from it.

    :param connect: opens a connection (autocommit on) to the target server.
    :param task_info_schema: ``[lightning] task-info-schema-name``: where the progress markers and error
        rows are ("" when the import records none).
    :param keep_table_definitions: ``[mydumper] no-schema``: the import does not create tables, so
        ``checkpoint-error-destroy`` empties a table (``TRUNCATE``) instead of dropping it.
    """

    connect: Callable[[], Any]
    task_info_schema: str
    keep_table_definitions: bool = False


def ctl_target_from_config(config: Config) -> CtlTarget:
    """The :class:`CtlTarget` of an import configured by ``config`` (its ``[tidb]`` server)."""
    from airflow_provider_lightning.core.importer.env import connection_settings
    from airflow_provider_lightning.core.target import connect

    settings = connection_settings(config)
    return CtlTarget(
        connect=lambda: connect(settings),
        task_info_schema=config.lightning.task_info_schema_name,
        keep_table_definitions=config.mydumper.no_schema,
    )


@dataclass(frozen=True, slots=True)
class CtlResult:
    """What an action did: a text for people, the tables it acted on, the files it wrote."""

    action: str
    text: str
    tables: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()


# --- table names --------------------------------------------------------------------------------------


def split_table_key(name: str) -> tuple[str, str]:
    """`` `db`.`tbl` `` -> ``("db", "tbl")``, undoing doubled backquotes."""
    match = _QUOTED_TABLE.fullmatch(name)
    if match is None:
        raise LightningError(f"{name!r} is not a table name in Lightning's form `db`.`table`")
    return match.group(1).replace("``", "`"), match.group(2).replace("``", "`")


def resolve_table(store: CheckpointStore, name: str) -> str:
    """The checkpoint name (`` `db`.`tbl` ``) that ``name`` means: Lightning's quoted form or ``db.tbl``.

    A ``db.tbl`` with more than one dot is matched against the tables that have checkpoints; a name that
    matches none raises :class:`CheckpointError` listing the ones that do.
    """
    text = name.strip()
    known = store.table_names()
    if text.startswith("`"):
        schema, table = split_table_key(text)  # validates the quoting
        candidates = [table_key(schema, table)]
    elif "." in text:
        parts = text.split(".")
        candidates = [table_key(".".join(parts[:i]), ".".join(parts[i:])) for i in range(1, len(parts))]
    else:
        raise LightningError(
            f"table {name!r}: write it as `db`.`table` (or db.table), or '{ALL_TABLES}' for every table"
        )
    found = [c for c in candidates if c in known]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise LightningError(
            f"table {name!r} is ambiguous: it could be {' or '.join(found)}; write it as `db`.`table`"
        )
    listed = ", ".join(known[:20]) + (" …" if len(known) > 20 else "") if known else "none"
    raise CheckpointError(
        f"no checkpoint for table {candidates[0]} in {store.description} (tables with checkpoints: {listed}); "
        f"valid examples: '`db`.`table`', 'db.table' or '{ALL_TABLES}'"
    )


def _select(store: CheckpointStore, table: str) -> list[str]:
    if table.strip() == ALL_TABLES:
        return store.table_names()
    return [resolve_table(store, table)]


# --- checkpoint-dump ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ChunkBytes:
    done: int
    total: int | None  # None: a compressed file, whose decompressed size is unknown until read


def _chunk_bytes(chunk: ChunkCheckpoint) -> _ChunkBytes:
    compressed = chunk.compression != Compression.NONE
    if chunk.end_offset == WHOLE_FILE:
        total = None if compressed else max(0, chunk.file_size - chunk.offset)
    else:
        total = chunk.end_offset - chunk.offset
    if chunk.finished:
        return _ChunkBytes(total if total is not None else chunk.pos - chunk.offset, total)
    done = chunk.pos - chunk.offset
    return _ChunkBytes(done if total is None else min(done, total), total)


def _table_progress(table: TableCheckpoint) -> str:
    parts = [_chunk_bytes(c) for c in table.chunks]
    done = sum(p.done for p in parts)
    if any(p.total is None for p in parts):
        return f"{format_bytes(done)} read (compressed files: total unknown)"
    total = sum(p.total or 0 for p in parts)
    percent = 100.0 * done / total if total else 100.0
    return f"{format_bytes(done)} / {format_bytes(total)} ({percent:.1f}%)"


def _chunk_state(chunk: ChunkCheckpoint) -> str:
    if chunk.finished:
        return f"done, {chunk.rows:,} rows"
    if chunk.pos == chunk.offset and not chunk.rows:
        return "not started"
    part = _chunk_bytes(chunk)
    where = f"at byte {chunk.pos:,}"
    if part.total:
        where += f" ({100.0 * part.done / part.total:.1f}%)"
    return f"{where}, {chunk.rows:,} rows"


def _committed_view(
    store: CheckpointStore, names: Iterable[str], target: CtlTarget | None
) -> tuple[dict[str, TableCheckpoint], str]:
    """The tables' checkpoints, moved forward to what the target's progress markers say is committed.

    The store may lag the markers by a few seconds (or more after a crash); the markers are exact. Without
    a reachable target the store's view is shown, with a note saying so.
    """
    from airflow_provider_lightning.core.importer.table import reconcile_with_markers

    tables = {name: t for name in names if (t := store.get_table(name)) is not None}
    task = store.get_task()
    if target is None or task is None or not target.task_info_schema or not tables:
        return tables, ""
    markers = ProgressMarkers(target.task_info_schema, task.import_id)
    try:
        conn = target.connect()
    except LightningError as exc:
        return tables, f"(progress as of the last checkpoint save: the target is not reachable: {exc})"
    try:
        for name, checkpoint in tables.items():
            tables[name] = reconcile_with_markers(checkpoint, markers.read(conn, name))
    finally:
        conn.close()
    return tables, ""


def _lease_lines(target: CtlTarget | None, names: list[str], import_id: int | None) -> list[str]:
    """Who holds (or last held, for parallel imports) the owner lease of these tables on the target."""
    from airflow_provider_lightning.core.importer.lease import TableLeases

    if target is None or not target.task_info_schema or not names:
        return []
    try:
        conn = target.connect()
    except LightningError:
        return []  # _committed_view already said the target is not reachable
    try:
        holders = TableLeases(target.connect, target.task_info_schema, duration=1.0).holders(conn)
    except Exception as exc:  # noqa: BLE001 - no lease table yet: nothing was imported on this target
        if _server_code(exc) in _MISSING:
            return []
        raise
    finally:
        conn.close()
    wanted = set(names)
    rows = [
        (
            h.table,
            f"task {h.import_id}{' (this import)' if h.import_id == import_id else ''}: {h.owner}",
            f"{h.host}, process {h.pid}",
            h.acquired_at,
            h.heartbeat_at,
            "released" if h.released else "held" if h.live else "expired (its heartbeat stopped)",
        )
        for h in holders
        if h.table in wanted
    ]
    if not rows:
        return []
    return ["", "table leases on the target (one writer per table; see docs/exactness.md):"] + _columns(
        ("table", "import", "where", "since (UTC)", "last heartbeat (UTC)", "state"), rows
    )


def dump(store: CheckpointStore, target: CtlTarget | None = None) -> str:
    """A readable listing of the task, its tables, engines and chunks, with statuses and progress."""
    task = store.get_task()
    names = store.table_names()
    lines = [f"checkpoints in {store.description}"]
    if task is None and not names:
        lines.append("no checkpoints: nothing was imported with this configuration, or its checkpoints were removed")
        return "\n".join(lines)
    if task is not None:
        lines.append(
            f"task {task.import_id}: {task.source_url} -> {task.target_host}:{task.target_port}, "
            f"backend {task.backend}, written by version {task.version}"
        )
    tables, note = _committed_view(store, names, target)
    if note:
        lines.append(note)
    rows = [
        (
            name,
            describe_status(t.status),
            f"{sum(1 for c in t.chunks if c.finished)}/{len(t.chunks)}",
            f"{t.rows:,}",
            _table_progress(t),
        )
        for name, t in tables.items()
    ]
    lines.append("")
    lines.extend(_columns(("table", "status", "chunks done", "rows", "progress"), rows, right=(2, 3)))
    lines.extend(_lease_lines(target, list(tables), task.import_id if task is not None else None))
    for name, table in tables.items():
        lines.append("")
        lines.append(f"{name}: {describe_status(table.status)}")
        for engine in table.engines:
            lines.append(f"  engine {engine.id}: {describe_status(engine.status)}, {len(engine.chunks)} chunks")
            for chunk in engine.chunks:
                end = "end" if chunk.end_offset == WHOLE_FILE else f"{chunk.end_offset:,}"
                lines.append(f"    {chunk.path} [{chunk.offset:,}, {end}): {_chunk_state(chunk)}")
    failed = [name for name, t in tables.items() if _in_error(t)]
    if failed:
        lines.append("")
        lines.append(
            f"{len(failed)} table(s) in an error state: {', '.join(failed)}. A run refuses them until you choose: "
            f"`lightning ctl {ERROR_IGNORE} <table>` keeps their rows and continues where they stopped (after "
            f"fixing the cause); `lightning ctl {ERROR_DESTROY} <table>` drops them and imports them from scratch."
        )
    return "\n".join(lines)


def _columns(header: tuple[str, ...], rows: list[tuple[str, ...]], *, right: tuple[int, ...] = ()) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return [line(header), line(tuple("-" * w for w in widths))] + [line(r) for r in rows]


TABLE_COLUMNS = (
    "task_id", "table_name", "status", "status_name", "fingerprint", "target_identity", "chunks",
    "chunks_done", "rows", "checksum_rows", "checksum_sum",
)
ENGINE_COLUMNS = ("table_name", "engine_id", "status", "status_name", "chunks", "chunks_done")
CHUNK_COLUMNS = (
    "table_name", "engine_id", "path", "offset", "end_offset", "pos", "type", "compression", "sort_key",
    "file_size", "columns", "statement", "rows", "checksum_rows", "checksum_sum", "finished",
)


def dump_csv(store: CheckpointStore, folder: Path, target: CtlTarget | None = None) -> list[Path]:
    """Lightning's ``--checkpoint-dump=<dir>``: ``tables.csv``, ``engines.csv`` and ``chunks.csv`` in ``folder``.

    Columns follow Lightning's where they mean the same (``table_name``, ``engine_id``, ``status``, ``path``,
    ``offset``, ``end_offset``, ``pos``, ``type``, ``compression``, ``sort_key``, ``file_size``, ``columns``);
    the row count and row checksum take the place of Lightning's KV checksum, and ``status_name`` spells
    the status out.
    """
    task = store.get_task()
    tables, _ = _committed_view(store, store.table_names(), target)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / "tables.csv", folder / "engines.csv", folder / "chunks.csv"]
        with (
            paths[0].open("w", newline="", encoding="utf-8") as tables_file,
            paths[1].open("w", newline="", encoding="utf-8") as engines_file,
            paths[2].open("w", newline="", encoding="utf-8") as chunks_file,
        ):
            table_rows, engine_rows, chunk_rows = (csv.writer(f) for f in (tables_file, engines_file, chunks_file))
            table_rows.writerow(TABLE_COLUMNS)
            engine_rows.writerow(ENGINE_COLUMNS)
            chunk_rows.writerow(CHUNK_COLUMNS)
            for name, table in tables.items():
                chunks = table.chunks
                checksum = table.checksum
                table_rows.writerow((
                    task.import_id if task else "", name, int(table.status), describe_status(table.status),
                    table.fingerprint, table.target_identity, len(chunks), sum(1 for c in chunks if c.finished),
                    table.rows, checksum.rows, checksum.sum,
                ))
                for engine in table.engines:
                    engine_rows.writerow((
                        name, engine.id, int(engine.status), describe_status(engine.status), len(engine.chunks),
                        sum(1 for c in engine.chunks if c.finished),
                    ))
                    for c in engine.chunks:
                        chunk_rows.writerow((
                            name, engine.id, c.path, c.offset, c.end_offset, c.pos, c.type, c.compression,
                            c.sort_key, c.file_size, json.dumps(list(c.columns)) if c.columns is not None else "",
                            c.statement, c.rows, c.checksum.rows, c.checksum.sum, int(c.finished),
                        ))
    except OSError as exc:
        raise LightningError(f"cannot write the checkpoint dump to {folder}: {exc.strerror or exc}") from exc
    return paths


# --- checkpoint-error-ignore ------------------------------------------------------------------------------


def _in_error(table: TableCheckpoint) -> bool:
    return is_error_status(table.status) or any(is_error_status(e.status) for e in table.engines)


def error_ignore(store: CheckpointStore, table: str) -> list[str]:
    """Set the error states of the table (and its engines) back to Loaded; return the tables changed.

    Every row imported so far stays, and so do its progress markers: the next run continues each chunk
    from where it stopped (Lightning's ``UPDATE ... SET status = 30 WHERE status <= 25``).
    """
    changed = []
    for name in _select(store, table):
        checkpoint = store.get_table(name)
        if checkpoint is None or not _in_error(checkpoint):
            continue
        for engine in checkpoint.engines:
            if is_error_status(engine.status):
                store.update_status(name, CheckpointStatus.LOADED, engine_id=engine.id)
        if is_error_status(checkpoint.status):
            store.update_status(name, CheckpointStatus.LOADED)
        log.info("table %s: error state %s cleared", name, describe_status(checkpoint.status))
        changed.append(name)
    return changed


# --- checkpoint-error-destroy -------------------------------------------------------------------------


def error_destroy(store: CheckpointStore, table: str, target: CtlTarget) -> list[str]:
    """Drop each table in an error state from the target and forget its checkpoints, markers and error rows.

    The order makes an interruption harmless: the checkpoint goes last, so an interrupted destroy leaves
    the table still marked failed and the action can simply be run again.
    """
    names = _select(store, table)
    failing = [n for n in names if (t := store.get_table(n)) is not None and _in_error(t)]
    if not failing:
        return []
    task = store.get_task()
    conn = target.connect()
    try:
        for name in failing:
            schema, tbl = split_table_key(name)
            with conn.cursor() as cur:
                try:
                    if target.keep_table_definitions:
                        cur.execute(f"TRUNCATE TABLE {qualified_name(schema, tbl)}")
                    else:
                        cur.execute(f"DROP TABLE IF EXISTS {qualified_name(schema, tbl)}")
                except Exception as exc:  # reported with the table's name
                    if _server_code(exc) not in _MISSING:
                        raise TargetError(f"cannot drop {name} in the target: {_message(exc)}") from exc
            if task is not None:
                _forget_target_records(conn, target.task_info_schema, task.import_id, name)
            store.remove_table(name)
            log.info("table %s: %s and its checkpoints removed", name,
                     "emptied" if target.keep_table_definitions else "dropped")
    finally:
        conn.close()
    return failing


# --- checkpoint-remove ----------------------------------------------------------------------------------


def remove(store: CheckpointStore, table: str, target: CtlTarget | None) -> list[str]:
    """Forget the checkpoints of a table (with its markers and error rows), or of everything (the task
    too); the target's tables are left as they are. Return the tables forgotten."""
    everything = table.strip() == ALL_TABLES
    names = _select(store, table)
    task = store.get_task()
    if target is not None and task is not None and target.task_info_schema:
        conn = target.connect()
        try:
            if everything:
                # A new task id comes with the next run; the old task's error rows stay as a record.
                ProgressMarkers(target.task_info_schema, task.import_id).delete(conn)
            else:
                for name in names:
                    _forget_target_records(conn, target.task_info_schema, task.import_id, name)
        finally:
            conn.close()
    if everything:
        store.remove_all()
    else:
        for name in names:
            store.remove_table(name)
    return names


def _forget_target_records(conn: Any, schema: str, import_id: int, table: str) -> None:
    """Delete a table's progress markers and error rows of this task, and take its error rows out of the
    task's ``max-error`` counts, in one transaction: the rerun that imports the table again records its
    rows' errors afresh and must not find them counted twice."""
    if not schema:
        return
    q = quote_identifier(schema)
    conn.begin()
    try:
        with conn.cursor() as cur:
            ProgressMarkers(schema, import_id).delete(conn, table)
            for kind, name in (("syntax", SYNTAX_ERROR_TABLE), ("type", TYPE_ERROR_TABLE), ("conflict", CONFLICT_TABLE)):
                try:
                    cur.execute(f"DELETE FROM {q}.{name} WHERE task_id = %s AND table_name = %s", (import_id, table))
                except Exception as exc:  # no such table: nothing was recorded
                    if _server_code(exc) in _MISSING:
                        continue
                    raise
                if cur.rowcount and kind != "syntax":
                    cur.execute(
                        f"UPDATE {q}.{COUNTS_TABLE} SET `count` = GREATEST(`count` - %s, 0) "
                        "WHERE task_id = %s AND kind = %s",
                        (cur.rowcount, import_id, kind),
                    )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def _server_code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _message(exc: BaseException) -> str:
    from airflow_provider_lightning.core.target import mysql_message

    return mysql_message(exc)


# --- the entry point ----------------------------------------------------------------------------------


def run_ctl(
    action: str,
    store: CheckpointStore,
    table: str | None = None,
    *,
    target: CtlTarget | None = None,
    output: Path | None = None,
) -> CtlResult:
    """Run one ``lightning ctl`` action on ``store``.

    :param action: one of :data:`ACTIONS`.
    :param table: `` `db`.`tbl` ``, ``db.tbl`` or ``all``; required by every action but ``checkpoint-dump``.
    :param target: the target database; ``checkpoint-error-destroy`` needs it, ``checkpoint-remove`` uses
        it to delete progress markers and error rows, ``checkpoint-dump`` to show committed progress.
    :param output: for ``checkpoint-dump``: write CSV files to this folder instead of the listing.
    """
    if action not in ACTIONS:
        raise LightningError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if action == DUMP:
        if output is not None:
            files = dump_csv(store, output, target)
            return CtlResult(action, "wrote " + ", ".join(str(f) for f in files), tuple(store.table_names()), tuple(files))
        return CtlResult(action, dump(store, target), tuple(store.table_names()))
    if not table:
        raise LightningError(f"{action} needs a table: `db`.`table`, db.table or '{ALL_TABLES}'")
    if action == ERROR_IGNORE:
        changed = error_ignore(store, table)
        text = (
            f"cleared the error state of {', '.join(changed)}: the next run keeps the rows imported so far and "
            "continues where it stopped"
            if changed else f"no table in an error state ({_which(table)}): nothing to do"
        )
        return CtlResult(action, text, tuple(changed))
    if action == ERROR_DESTROY:
        if target is None:
            raise LightningError(f"{action} needs the target database, to drop the tables it destroys")
        destroyed = error_destroy(store, table, target)
        verb = "emptied" if target.keep_table_definitions else "dropped"
        text = (
            f"{verb} {', '.join(destroyed)} in the target and forgot their checkpoints: the next run imports "
            "them from scratch"
            if destroyed else f"no table in an error state ({_which(table)}): nothing destroyed"
        )
        return CtlResult(action, text, tuple(destroyed))
    removed = remove(store, table, target)
    if table.strip() == ALL_TABLES:
        text = f"removed all checkpoints from {store.description} ({len(removed)} tables)"
    else:
        text = (
            f"removed the checkpoints of {', '.join(removed)}; the target table keeps its rows, so the next "
            "run imports the table again into them (the 'target tables empty' precheck stops it unless the "
            "table is emptied or [conflict] strategy is 'replace' or 'ignore')"
        )
    return CtlResult(action, text, tuple(removed))


def _which(table: str) -> str:
    return "of all tables" if table.strip() == ALL_TABLES else f"checked {table.strip()}"


__all__ = [
    "ACTIONS",
    "ALL_TABLES",
    "CtlResult",
    "CtlTarget",
    "ctl_target_from_config",
    "dump",
    "dump_csv",
    "error_destroy",
    "error_ignore",
    "remove",
    "resolve_table",
    "run_ctl",
    "split_table_key",
]
