"""Airflow's public REST API (``/api/v2``), spoken over HTTP: no Airflow import, so ``lightning ctl`` can
reach the checkpoints of an import run by Airflow from any machine.

- ``client``: the HTTP client and the state-store accessor of one task instance;
- ``run_store``: the checkpoints of one DAG run, gathered into one checkpoint store.
"""
