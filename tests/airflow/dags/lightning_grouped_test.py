"""A test DAG: more tables than map indexes (max_map_length=2), so task instances share tables."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_provider_lightning import lightning_import

with DAG(
    dag_id="lightning_grouped_test",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"source": Param("", type="string")},
) as dag:
    lightning_import(
        "import",
        source="{{ params.source }}",
        target_conn_id="lightning_target",
        max_map_length=2,
    )
