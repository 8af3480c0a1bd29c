"""Import CSV files from S3: a template to copy.

The files follow Dumpling's naming (``db.table.000000001.csv``, schema files beside them), or any layout
described by ``[[mydumper.files]]`` rules in ``config``. S3 credentials and endpoint come from the
``lightning_s3`` connection (type aws: login = access key id, password = secret, extra ``endpoint_url``
for S3-compatible stores).
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_provider_lightning import lightning_import

with DAG(
    dag_id="lightning_s3_csv",
    description="Bulk-import CSV files from S3 into a MySQL-compatible database",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["lightning", "example"],
    params={
        "bucket": Param(os.environ.get("LIGHTNING_EXAMPLE_BUCKET", "exports"), type="string"),
        "prefix": Param(os.environ.get("LIGHTNING_EXAMPLE_PREFIX", "csv/latest"), type="string"),
    },
) as dag:
    lightning_import(
        "import_csv",
        source="s3://{{ params.bucket }}/{{ params.prefix }}",
        target_conn_id="lightning_target",
        aws_conn_id="lightning_s3",
        config={
            "mydumper": {
                "csv": {"separator": ",", "delimiter": '"', "terminator": "\n", "header": True, "null": "\\N"},
                "strict-format": True,
                "max-region-size": "256MiB",
            },
        },
    )
