"""A test DAG for killing ``import_table`` task processes: the crash dump of ``tests/kill_scenario.py``
imported the way that scenario imports it with the ``lightning`` command.

64 KiB batches (many batches per table, so a kill can land anywhere in a table), two writers per
table, no retries (a killed table stays failed until the test clears it), and the trigger form's
Params naming the target database (a route renames the dump's ``shop`` schema), the task-info schema
(where the progress markers a test reads live), the tables to import and the checkpoint store (the
Task State Store, or the mysql driver with a schema of its own).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_provider_lightning import lightning_import

with DAG(
    dag_id="lightning_kill_test",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    params={
        "source": Param("", type="string"),
        "target_db": Param("", type="string"),
        "info_schema": Param("lightning_task_info", type="string"),
        "filter": Param(["shop.*"], type="array", items={"type": "string"}),
        "checkpoint_driver": Param("airflow", enum=["airflow", "mysql"]),
        "checkpoint_schema": Param("", type="string"),  # for the mysql driver
    },
) as dag:
    lightning_import(
        "import",
        source="{{ params.source }}",
        target_conn_id="lightning_target",
        config={
            "routes": [{"schema-pattern": "shop", "target-schema": "{{ params.target_db }}"}],
            "mydumper": {"csv": {"header": False}},
        },
        filter="{{ params.filter }}",
        region_concurrency=2,
        table_retries=0,
        options={
            "tikv-importer.logical-import-batch-size": "64KiB",
            "lightning.task-info-schema-name": "{{ params.info_schema }}",
            "checkpoint.driver": "{{ params.checkpoint_driver }}",
            "checkpoint.schema": "{{ params.checkpoint_schema }}",
        },
    )
