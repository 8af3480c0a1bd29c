"""Test DAGs for tests/airflow/test_features_end_to_end.py.

``lightning_features_test`` (run by ``dag.test()``): two task instances at most (``max_map_length=2``), an
immediate retry, CSV files cut into 4 KiB chunks, small batches, checkpoints kept after success so the
test can read them.

``lightning_api_clean_test`` (run by the real services): ``clean_checkpoints`` clears the Task State Store
through the REST API (``api_conn_id``); no retries, so a failed table stays failed for the maintenance DAG.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from airflow_provider_lightning import lightning_import

with DAG(
    dag_id="lightning_features_test",
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
        table_retries=1,
        table_retry_delay=timedelta(seconds=0),
        region_concurrency=1,
        options={
            "mydumper.strict-format": True,
            "mydumper.max-region-size": "4KiB",
            "mydumper.csv.header": False,
            "mydumper.csv.terminator": "\n",
            "tikv-importer.logical-import-batch-rows": 70,
            "checkpoint.keep-after-success": "origin",
        },
    )

with DAG(
    dag_id="lightning_api_clean_test",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"source": Param("", type="string")},
) as api_clean_dag:
    lightning_import(
        "import",
        source="{{ params.source }}",
        target_conn_id="lightning_target",
        api_conn_id="airflow_api",
        table_retries=0,
    )
