"""``lightning ctl``: Lightning's checkpoint maintenance commands, for any checkpoint store.

- ``checkpoint-dump``: the task, its tables, engines and chunks, with statuses and progress;
- ``checkpoint-error-ignore <table|all>``: clear error states so the next run retries from where it stopped;
- ``checkpoint-error-destroy <table|all>``: drop the partly imported target table of each table in an
  error state and forget its checkpoints, so the next run imports it from scratch;
- ``checkpoint-remove <table|all>``: forget checkpoints whatever their state.

Removing a table's checkpoints also removes its progress markers in the target, so a later run cannot
mistake them for its own.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_lightning.core.checkpoints.model import (
    CheckpointStatus,
    TableCheckpoint,
    describe_status,
    is_error_status,
    table_key,
)
from airflow_provider_lightning.core.checkpoints.store import CheckpointStore
from airflow_provider_lightning.core.encode import quote_identifier
from airflow_provider_lightning.core.errors import CheckpointError, LightningError

log = logging.getLogger(__name__)

ACTIONS = ("checkpoint-dump", "checkpoint-error-ignore", "checkpoint-error-destroy", "checkpoint-remove")


def normalise_table_name(name: str) -> str:
    """`` `db`.`tbl` `` as Lightning writes it; ``db.tbl`` is accepted too; ``all`` stays ``all``."""
    name = name.strip()
    if name == "all" or name.startswith("`"):
        return name
    if "." not in name:
        raise LightningError(f"table {name!r}: write it as `db`.`table` (or db.table), or 'all'")
    schema, table = name.split(".", 1)
    return table_key(schema, table)


def split_table_key(name: str) -> tuple[str, str]:
    """`` `db`.`tbl` `` -> ("db", "tbl"), undoing the doubled backquotes."""
    if not (name.startswith("`") and name.endswith("`")):
        raise LightningError(f"not a quoted table name: {name!r}")
    i, parts, current = 1, [], []
    while i < len(name):
        ch = name[i]
        if ch == "`":
            if i + 1 < len(name) and name[i + 1] == "`":
                current.append("`")
                i += 2
                continue
            parts.append("".join(current))
            current = []
            i += 1
            if i < len(name) and name[i] == ".":
                i += 2  # past ".`"
            continue
        current.append(ch)
        i += 1
    if len(parts) != 2:
        raise LightningError(f"not a quoted table name: {name!r}")
    return parts[0], parts[1]


def _selected(store: CheckpointStore, table: str) -> list[str]:
    names = store.table_names()
    if table == "all":
        return names
    table = normalise_table_name(table)
    if table not in names:
        raise CheckpointError(f"no checkpoint for table {table} in {store.description}")
    return [table]


def dump(store: CheckpointStore) -> str:
    task = store.get_task()
    lines = [f"checkpoints in {store.description}"]
    if task is None:
        lines.append("no task checkpoint: nothing has been imported with this configuration")
        return "\n".join(lines)
    lines.append(
        f"task {task.task_id}: source {task.source_url} -> {task.target_host}:{task.target_port}, "
        f"backend {task.backend}, version {task.version}"
    )
    for name in store.table_names():
        table = store.get_table(name)
        if table is None:
            continue
        lines.append(_table_line(table))
        for engine in table.engines:
            lines.append(f"  engine {engine.id}: {describe_status(engine.status)}, {len(engine.chunks)} chunks")
            for chunk in engine.chunks:
                end = "end" if chunk.end_offset < 0 else str(chunk.end_offset)
                state = "done" if chunk.finished else f"at byte {chunk.pos}"
                lines.append(f"    {chunk.path} [{chunk.offset}, {end}): {state}, {chunk.rows} rows")
    return "\n".join(lines)


def _table_line(table: TableCheckpoint) -> str:
    chunks = table.chunks
    done = sum(1 for c in chunks if c.finished)
    return f"{table.name}: {describe_status(table.status)}; {done}/{len(chunks)} chunks done, {table.rows} rows"


def error_ignore(store: CheckpointStore, table: str) -> list[str]:
    """Reset error states to Loaded; the next run continues each chunk from its position."""
    changed = []
    for name in _selected(store, table):
        checkpoint = store.get_table(name)
        if checkpoint is None:
            continue
        touched = False
        for engine in checkpoint.engines:
            if is_error_status(engine.status):
                store.update_status(name, CheckpointStatus.LOADED, engine_id=engine.id)
                touched = True
        if is_error_status(checkpoint.status):
            store.update_status(name, CheckpointStatus.LOADED)
            touched = True
        if touched:
            changed.append(name)
    return changed


def error_destroy(store: CheckpointStore, table: str, *, target: Any, markers: Any | None) -> list[str]:
    """Drop each errored table in the target and forget its checkpoints and markers."""
    destroyed = []
    for name in _selected(store, table):
        checkpoint = store.get_table(name)
        if checkpoint is None or not (
            is_error_status(checkpoint.status) or any(is_error_status(e.status) for e in checkpoint.engines)
        ):
            continue
        schema, tbl = split_table_key(name)
        conn = target()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {quote_identifier(schema)}.{quote_identifier(tbl)}")
            if markers is not None:
                markers.delete(conn, name)
        finally:
            conn.close()
        store.remove_table(name)
        destroyed.append(name)
    return destroyed


def remove(store: CheckpointStore, table: str, *, target: Any, markers: Any | None) -> list[str]:
    """Forget checkpoints (and markers) of the table, or of everything."""
    names = _selected(store, table)
    if markers is not None and names:
        conn = target()
        try:
            for name in names if table != "all" else [None]:
                markers.delete(conn, name)
        finally:
            conn.close()
    if table == "all":
        store.remove_all()
    else:
        for name in names:
            store.remove_table(name)
    return names


def run_ctl(config: Any, store: CheckpointStore, action: str, table: str = "all") -> str:
    """Run one ``lightning ctl`` action; return what to print."""
    from airflow_provider_lightning.core.importer.steps import ImportEnv  # noqa: PLC0415

    if action == "checkpoint-dump":
        return dump(store)
    if action == "checkpoint-error-ignore":
        changed = error_ignore(store, table)
        return (
            f"cleared the error state of {', '.join(changed)}; run the import again to continue"
            if changed else "no table is in an error state"
        )
    env = ImportEnv(config)
    task = store.get_task()
    markers = env.markers(task.task_id) if task is not None else None

    def target():
        return env.connect()

    if action == "checkpoint-error-destroy":
        destroyed = error_destroy(store, table, target=target, markers=markers)
        return (
            f"dropped {', '.join(destroyed)} and forgot their checkpoints; the next run imports them from scratch"
            if destroyed else "no table is in an error state"
        )
    if action == "checkpoint-remove":
        removed = remove(store, table, target=target, markers=markers)
        return f"removed the checkpoints of {', '.join(removed) or 'nothing'}"
    raise LightningError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")


__all__ = ["ACTIONS", "dump", "error_destroy", "error_ignore", "normalise_table_name", "remove", "run_ctl"]
