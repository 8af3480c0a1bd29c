"""Import a dump with everything a person sets from the trigger form: a template to copy.

Trigger it from the UI ("Trigger DAG" shows a form for the Params below) or from the REST API with
``{"conf": {"source": "/data/dumps/2026-11-25", "conflict_strategy": "replace"}}``.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_provider_lightning import lightning_import

with DAG(
    dag_id="lightning_import_params",
    description="Bulk-import a mydumper/Dumpling dump into a MySQL-compatible database",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,  # Params keep their types (numbers, lists) in the config
    tags=["lightning", "example"],
    params={
        "source": Param(
            os.environ.get("LIGHTNING_EXAMPLE_SOURCE", "/data/dumps/latest"),
            type="string",
            title="Source",
            description="The dump: a directory on the workers, or s3://bucket/prefix",
        ),
        "target_conn_id": Param(
            "lightning_target", type="string", title="Target connection", description="A connection of type mysql"
        ),
        "backend": Param("tidb", enum=["tidb", "local"], title="Backend", description="tidb = logical (SQL)"),
        "conflict_strategy": Param(
            "error",
            enum=["error", "replace", "ignore"],
            title="Conflict strategy",
            description="What to do with rows whose key the table already holds",
        ),
        "filter": Param(
            ["*.*", "!mysql.*", "!sys.*", "!INFORMATION_SCHEMA.*", "!PERFORMANCE_SCHEMA.*"],
            type="array",
            items={"type": "string"},
            title="Table filter",
            description="Lightning's table filter rules, e.g. shop.* or !shop.audit_*",
        ),
        "table_concurrency": Param(2, type="integer", minimum=1, title="Table concurrency"),
    },
) as dag:
    lightning_import(
        "import",
        source="{{ params.source }}",
        target_conn_id="{{ params.target_conn_id }}",
        backend="{{ params.backend }}",
        conflict_strategy="{{ params.conflict_strategy }}",
        filter="{{ params.filter }}",
        table_concurrency="{{ params.table_concurrency }}",
        # How often a failed table retries by itself (each retry resumes it); Clear retries it again.
        table_retries=int(os.environ.get("LIGHTNING_EXAMPLE_TABLE_RETRIES", "2")),
    )
