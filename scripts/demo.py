"""The demo behind ./scripts/demo: a sample dump, what the loader sees in it, and a real import."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from airflow_provider_lightning.core.mydump.loader import discover
from airflow_provider_lightning.core.mydump.sql_parser import SqlParser
from airflow_provider_lightning.core.sample import write_shop_dump
from airflow_provider_lightning.core.storage import LocalStorage, open_source_file

TARGET_SCHEMA = "lightning_demo"


def show_source(source_dir: Path) -> None:
    source = discover(LocalStorage(source_dir))
    print(f"\nThe loader found in {source_dir}:")
    for db in source.databases:
        print(f"  database {db.name}  (schema file: {db.schema_file.path if db.schema_file else '-'})")
        for table in db.tables:
            files = ", ".join(f.path for f in table.data_files)
            print(f"    table {table.name}: {len(table.data_files)} data files, {table.total_size:,} bytes: {files}")
        for view in db.views:
            print(f"    view {view.name}  (from {view.schema_file.path})")
    table = source.tables[0]
    first = table.data_files[0]
    print(f"\nThe first rows of {first.path}, as parsed:")
    with open_source_file(LocalStorage(source_dir), first.path, first.compression) as stream:
        for n, (values, end) in enumerate(SqlParser(stream, path=first.path).iter_rows()):
            print(f"  next row at byte {end:>6}: {values}")
            if n == 2:
                break


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="lightning-demo-"))
    dump = write_shop_dump(work / "dump", rows=2000)
    show_source(dump)
    config = work / "tidb-lightning.toml"
    config.write_text(
        "[mydumper]\n"
        f"data-source-dir = '{dump}'\n"
        "[[routes]]\n"
        "schema-pattern = 'shop'\n"
        f"target-schema = '{TARGET_SCHEMA}'\n"
        "[checkpoint]\n"
        f"dsn = '{work / 'checkpoint.json'}'\n"
    )
    target = os.environ["LIGHTNING_TEST_MYSQL_URL"]
    subprocess.run(
        ["mariadb", "-h127.0.0.1", "-P3306", "-ulightning", "-plightning", "-e", f"DROP DATABASE IF EXISTS {TARGET_SCHEMA}"],
        check=True,
    )
    print(f"\nImporting into `{TARGET_SCHEMA}` on {target.split('@')[-1]} with:\n  lightning import -c {config} --target ...\n")
    lightning = Path(sys.executable).with_name("lightning")
    return subprocess.run([str(lightning), "import", "-c", str(config), "--target", target]).returncode


if __name__ == "__main__":
    sys.exit(main())
