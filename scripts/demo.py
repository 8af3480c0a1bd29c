"""The demo behind ./scripts/demo.

1. makes a sample dump in mydumper's layout (three tables, one without a key, one over several files,
   and a view) and shows what the loader finds and parses in it;
2. imports it with the `lightning` command (no Airflow);
3. imports it again through Airflow: the example DAG `lightning_import_params`, run with `dag.test()` on
   a SQLite metadata DB, and prints the DAG's summary.
Everything lives in .demo/ (git-ignored); the target databases are dropped and made anew each time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / ".demo"
DATABASE = "lightning_demo"
CLI_DATABASE = "lightning_demo_cli"
VENV_BIN = Path(sys.executable).parent


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def drop_databases(target: str) -> None:
    import pymysql

    parts = urlsplit(target)
    conn = pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username,
                           password=parts.password or "", autocommit=True)
    with conn.cursor() as cur:
        for name in (DATABASE, CLI_DATABASE):
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def show_source(source_dir: Path) -> None:
    from airflow_provider_lightning.core.mydump.loader import discover
    from airflow_provider_lightning.core.mydump.sql_parser import SqlParser
    from airflow_provider_lightning.core.storage import LocalStorage, open_source_file

    source = discover(LocalStorage(source_dir))
    say(f"what the loader finds in {source_dir}")
    for db in source.databases:
        print(f"database {db.name}  (schema file: {db.schema_file.path if db.schema_file else '-'})")
        for table in db.tables:
            files = ", ".join(f.path for f in table.data_files)
            print(f"  table {table.name}: {table.total_size:,} bytes in {files}")
        for view in db.views:
            print(f"  view {view.name}  (from {view.schema_file.path})")
    first = source.tables[0].data_files[0]
    print(f"\nthe first rows of {first.path}, as parsed (value, and where the next row starts):")
    with open_source_file(LocalStorage(source_dir), first.path, first.compression) as stream:
        for n, (values, end) in enumerate(SqlParser(stream, path=first.path).iter_rows()):
            print(f"  next row at byte {end:>6}: {values}")
            if n == 2:
                break


def import_with_cli(dump: Path, target: str) -> None:
    config = DEMO / "tidb-lightning.toml"
    config.write_text(
        "[mydumper]\n"
        f"data-source-dir = '{dump}'\n"
        "[[routes]]\n"
        f"schema-pattern = '{DATABASE}'\n"
        f"target-schema = '{CLI_DATABASE}'\n"
        "[checkpoint]\n"
        f"dsn = '{DEMO / 'checkpoint.json'}'\n"
    )
    say(f"lightning import -c {config.relative_to(REPO)} --target mysql://…  (into `{CLI_DATABASE}`)")
    subprocess.run([str(VENV_BIN / "lightning"), "import", "-c", str(config), "--target", target,
                    "--no-progress"], check=True)


def import_with_airflow(dump: Path, target: str) -> None:
    home = DEMO / "airflow"
    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    for f in (REPO / "dags" / "examples").glob("*.py"):
        shutil.copy(f, dags / f.name)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_LIGHTNING_TARGET": target,
        "LIGHTNING_EXAMPLE_SOURCE": str(dump),
    }
    say("airflow db migrate (a SQLite metadata DB in .demo/airflow)")
    subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    say(f"the example DAG lightning_import_params, run with dag.test()  (into `{DATABASE}`)")
    runner = (
        "import importlib.util, json, logging, sys\n"
        "spec = importlib.util.spec_from_file_location('d', sys.argv[1])\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "run = m.dag.test(run_conf={'source': sys.argv[2]})\n"
        "tis = {(t.task_id, t.map_index): t for t in run.get_task_instances()}\n"
        "print('RESULT ' + json.dumps({'state': str(run.state), 'tasks': sorted(\n"
        "    [t.task_id, t.map_index, t.rendered_map_index, str(t.state)] for t in tis.values()),\n"
        "    'post': tis[('import.post_process', -1)].xcom_pull(task_ids='import.post_process'),\n"
        "    'tables': [r for k, t in tis.items() if k[0] == 'import.import_table'\n"
        "               for r in (t.xcom_pull(task_ids='import.import_table', map_indexes=k[1]) or [])]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", runner, str(dags / "lightning_import_params.py"), str(dump)],
        env=env, capture_output=True, text=True,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        print(out.stdout[-4000:], out.stderr[-4000:])
        raise SystemExit("the DAG run failed; its log is above")
    result = json.loads(lines[-1][len("RESULT "):])
    print(f"DAG run: {result['state']}")
    steps = ["prepare", "restore_schema", "precheck", "init_checkpoint", "import_table", "post_process",
             "clean_checkpoints"]
    result["tasks"].sort(key=lambda t: (steps.index(t[0].split(".")[-1]), t[1]))
    for task_id, map_index, rendered, state in result["tasks"]:
        label = f"{task_id}[{rendered or map_index}]" if map_index >= 0 else task_id
        print(f"  {label:<60} {state}")
    checks = {p["table"]: p["checksum"] for p in result["post"] or []}
    print(f"\n{'table':<34} {'rows':>8} {'seconds':>8}  checksum")
    for t in result["tables"]:
        print(f"{t['table']:<34} {t['rows']:>8,} {t['seconds']:>8.2f}  {checks.get(t['table'], '-')}")
    if result["state"] != "success":
        raise SystemExit(1)


def main() -> int:
    from airflow_provider_lightning.core.sample import write_shop_dump

    target = os.environ["LIGHTNING_TEST_MYSQL_URL"]
    if DEMO.exists():
        shutil.rmtree(DEMO)
    dump = write_shop_dump(DEMO / "dump", rows=2000, database=DATABASE)
    drop_databases(target)
    show_source(dump)
    import_with_cli(dump, target)
    import_with_airflow(dump, target)
    say("done")
    print("To see the same DAG in the Airflow UI (http://localhost:8080):")
    print(f"  export AIRFLOW_HOME={DEMO / 'airflow'} LIGHTNING_EXAMPLE_SOURCE={dump}")
    print("  export AIRFLOW_CONN_LIGHTNING_TARGET=mysql://USER:PASSWORD@127.0.0.1:3306")
    print("  .venv/bin/airflow standalone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
