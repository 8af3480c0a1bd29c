"""A test DAG: the TaskGroup with immediate retries and small batches, so a fault mid-table can be seen."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from airflow_provider_lightning import lightning_import

with DAG(
    dag_id="lightning_resume_test",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    params={"source": Param("", type="string")},
) as dag:
    lightning_import(
        "import",
        source="{{ params.source }}",
        target_conn_id="lightning_target",
        table_retries=1,
        table_retry_delay=timedelta(seconds=0),
        region_concurrency=1,
        options={"tikv-importer.logical-import-batch-rows": 70, "checkpoint.keep-after-success": "origin"},
    )
