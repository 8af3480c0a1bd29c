"""Every night, import that night's mydumper dump from a local folder: a template to copy.

The dump of each day is expected in ``<LIGHTNING_DUMP_ROOT>/<YYYY-MM-DD>`` on the workers (mydumper's
layout: ``db-schema-create.sql``, ``db.table-schema.sql``, ``db.table.00001.sql``...). A table that fails
is retried twice, resuming where it stopped; Clear it in the UI to retry it again.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_lightning import lightning_import

DUMP_ROOT = os.environ.get("LIGHTNING_DUMP_ROOT", "/data/dumps")

with DAG(
    dag_id="lightning_mydumper_daily",
    description="Nightly import of a mydumper dump into MariaDB/MySQL",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["lightning", "example"],
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
) as dag:
    lightning_import(
        "import_dump",
        source=DUMP_ROOT + "/{{ ds }}",
        target_conn_id="lightning_target",
        config={
            "conflict": {"strategy": "replace"},
            "post-restore": {"checksum": "required", "analyze": "optional"},
        },
        table_retries=2,
        table_retry_delay=timedelta(minutes=1),
    )
