"""Checkpoint maintenance for imports run by Airflow: Lightning's `tidb-lightning-ctl`, from the trigger form.

After an ``import_table`` task failed, most of the time Clear it in the UI: it resumes where it stopped.
Use this DAG when that is not what you want:

- ``checkpoint-dump``: list the run's tables, their statuses and progress (in this DAG's task log);
- ``checkpoint-error-ignore``: clear a table's error state (Clear does this too);
- ``checkpoint-error-destroy``: empty the partly imported table (``TRUNCATE``; Lightning's CLI drops it,
  but Clearing a task does not re-run ``restore_schema``) and forget its checkpoints, so that Clearing its
  task imports it from scratch;
- ``checkpoint-remove``: forget the checkpoints of a table (or ``all``), leaving the target as it is.

Needs a connection ``airflow_api`` (type http) to the Airflow API server: host = its base URL,
login / password = an API user.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_provider_lightning.operators.lightning import LightningCheckpointCtlOperator

with DAG(
    dag_id="lightning_maintenance",
    description="Inspect and repair the checkpoints of a Lightning import run",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["lightning", "example"],
    params={
        "action": Param(
            "checkpoint-dump",
            enum=["checkpoint-dump", "checkpoint-error-ignore", "checkpoint-error-destroy", "checkpoint-remove"],
            title="Action",
        ),
        "table": Param("all", type="string", title="Table", description="`db`.`table`, db.table or all"),
        "dag_id": Param("lightning_import_params", type="string", title="DAG of the import"),
        "run_id": Param("", type="string", title="Run of the import", description="its Run ID, from the Grid view"),
        "task_group": Param("import", type="string", title="TaskGroup id of the import"),
        "target_conn_id": Param("lightning_target", type="string", title="Target connection"),
    },
) as dag:
    LightningCheckpointCtlOperator(
        task_id="checkpoint_ctl",
        action="{{ params.action }}",
        table="{{ params.table }}",
        import_dag_id="{{ params.dag_id }}",
        import_run_id="{{ params.run_id }}",
        import_group="{{ params.task_group }}",
        target_conn_id="{{ params.target_conn_id }}",
        api_conn_id="airflow_api",
    )
