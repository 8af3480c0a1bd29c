"""``lightning_import(...)``: a TaskGroup of Lightning's steps, in Lightning's order.

    prepare >> restore_schema >> precheck >> init_checkpoint >> import_table[...] >> post_process
    >> clean_checkpoints

``import_table`` is dynamically mapped over the tables ``init_checkpoint`` finds, so every table is its
own task instance in the Grid view, with its own logs, retries and Clear; a retried or cleared table
resumes from its checkpoint.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import AssetAlias, TaskGroup

from airflow_provider_lightning.operators.lightning import (
    ASSET_ALIAS,
    MAX_MAP_LENGTH,
    LightningCleanCheckpointsOperator,
    LightningImportTableOperator,
    LightningInitCheckpointOperator,
    LightningPostProcessOperator,
    LightningPrecheckOperator,
    LightningPrepareOperator,
    LightningRestoreSchemaOperator,
)

#: Keyword shortcuts of ``lightning_import`` and the config keys they set.
OPTION_KEYS = {
    "backend": "tikv-importer.backend",
    "conflict_strategy": "conflict.strategy",
    "filter": "mydumper.filter",
    "table_concurrency": "lightning.table-concurrency",
    "region_concurrency": "lightning.region-concurrency",
    "max_error": "lightning.max-error",
    "checksum": "post-restore.checksum",
    "analyze": "post-restore.analyze",
    "no_schema": "mydumper.no-schema",
    "keep_after_success": "checkpoint.keep-after-success",
    "check_requirements": "lightning.check-requirements",
}


def lightning_import(
    task_id: str = "lightning_import",
    *,
    source: str,
    target_conn_id: str = "mysql_default",
    config: dict[str, Any] | None = None,
    config_file: str | None = None,
    aws_conn_id: str | None = None,
    api_conn_id: str | None = None,
    options: dict[str, Any] | None = None,
    table_retries: int = 2,
    table_retry_delay: timedelta = timedelta(seconds=30),
    max_active_tables: int | None = None,
    max_map_length: int = MAX_MAP_LENGTH,
    **shortcuts: Any,
) -> TaskGroup:
    """Build the TaskGroup that imports ``source`` into the database of ``target_conn_id``.

    :param task_id: the group's id.
    :param source: the dump: a directory on the workers, or ``s3://bucket/prefix`` (templated).
    :param target_conn_id: an Airflow connection of type ``mysql``: the target database.
    :param config: Lightning's configuration as a nested dict (``tidb-lightning.toml`` keys; templated).
    :param config_file: a ``tidb-lightning.toml`` on the workers; ``config`` is merged over it.
    :param aws_conn_id: an Airflow connection of type ``aws`` for an S3 source.
    :param api_conn_id: an Airflow connection (type ``http``) to the Airflow REST API, used by
        ``clean_checkpoints`` to clear the Task State Store rows of a successful import.
    :param options: any config keys as dotted names (``{"mydumper.csv.header": False}``; templated).
    :param table_retries: retries of each ``import_table`` task instance (each resumes the table).
    :param table_retry_delay: the delay before such a retry.
    :param max_active_tables: how many tables import at once in one DAG run (None: as many as the
        executor and pools allow).
    :param max_map_length: Airflow's ``[core] max_map_length``; more tables than this share task instances.
    :param shortcuts: ``backend``, ``conflict_strategy``, ``filter``, ``table_concurrency``,
        ``region_concurrency``, ``max_error``, ``checksum``, ``analyze``, ``no_schema``,
        ``keep_after_success``, ``check_requirements`` (templated), each setting the config key of the
        same meaning.
    """
    unknown = sorted(set(shortcuts) - set(OPTION_KEYS))
    if unknown:
        raise TypeError(
            f"lightning_import() got unexpected keyword arguments {', '.join(unknown)}; "
            f"shortcuts are {', '.join(sorted(OPTION_KEYS))}, any other key goes in options={{...}}"
        )
    merged = dict(options or {})
    for name, value in shortcuts.items():
        merged[OPTION_KEYS[name]] = value
    common: dict[str, Any] = {
        "source": source,
        "target_conn_id": target_conn_id,
        "config": config,
        "config_file": config_file,
        "options": merged,
        "aws_conn_id": aws_conn_id,
    }
    with TaskGroup(group_id=task_id) as group:
        prepare = LightningPrepareOperator(task_id="prepare", **common)
        restore = LightningRestoreSchemaOperator(task_id="restore_schema", prepared=prepare.output, **common)
        check = LightningPrecheckOperator(task_id="precheck", prepared=prepare.output, **common)
        init = LightningInitCheckpointOperator(
            task_id="init_checkpoint", prepared=prepare.output, max_map_length=max_map_length, **common
        )
        tables = LightningImportTableOperator.partial(
            task_id="import_table",
            prepared=prepare.output,
            task_checkpoint=init.output["task"],
            retries=table_retries,
            retry_delay=table_retry_delay,
            max_active_tis_per_dagrun=max_active_tables,
            outlets=[AssetAlias(ASSET_ALIAS)],
            map_index_template="{{ task.tables | join(', ') }}",
            **common,
        ).expand(tables=init.output)
        post = LightningPostProcessOperator(
            task_id="post_process", prepared=prepare.output, results=tables.output, **common
        )
        clean = LightningCleanCheckpointsOperator(
            task_id="clean_checkpoints",
            prepared=prepare.output,
            api_conn_id=api_conn_id,
            **common,
        )
        prepare >> restore >> check >> init >> tables >> post >> clean
    return group
