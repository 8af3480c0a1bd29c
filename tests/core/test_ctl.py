"""``lightning ctl``, end to end: a real import fails, ctl repairs its checkpoints, the next run finishes.

The failure is real: the ``fail-after-batches`` failpoint (see ``core/failpoints.py``) stops the import of
``events`` (a table without a key, so a row sent twice would show) right after its third batch commits,
before that batch's checkpoint is saved — or a row the target rejects with ``max-error = 0``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.core.test_cli import (
    SHOP_ROWS,
    Scene,
    build_scene,
    count_rows,
    run_lightning,
    summary_rows,
    table_exists,
    write_config,
)

BATCH_ROWS = 10
FAILED_AFTER = 3  # batches of events committed when the failpoint fires
SETTINGS = f"[tikv-importer]\nlogical-import-batch-rows = {BATCH_ROWS}\n"


@pytest.fixture
def scene(mysql_server, fresh_database, make_database, tmp_path) -> Scene:
    """The sample shop dump (customers, orders, events) for a fresh database, as test_cli.py uses it."""
    return build_scene(mysql_server, fresh_database, make_database, tmp_path)


def _args(scene: Scene, *more: str) -> list[str]:
    if scene.checkpoint is None:  # the mysql store: found from the config alone
        return ["-c", str(scene.config), "--source", str(scene.dump), "--target", scene.server.url, *more]
    return scene.args(*more)


def _ctl(scene: Scene, *args: str):
    return run_lightning("ctl", *args, *_args(scene))


def _import(scene: Scene):
    return run_lightning("import", *_args(scene))


def _fail_events(scene: Scene, tmp_path: Path) -> None:
    """Import the scene with the failpoint armed: customers and orders finish, events fails."""
    points = tmp_path / "failpoints.json"
    points.write_text(json.dumps({"fail-after-batches": {"table": scene.table("events"), "batches": FAILED_AFTER}}))
    result = run_lightning("import", *_args(scene), env={"LIGHTNING_FAILPOINTS": str(points)})
    assert result.returncode == 1, result.stderr
    assert "failpoint fail-after-batches fired" in result.stderr
    assert json.loads(points.read_text()) == {}  # fired once; the next runs go through


@pytest.fixture(params=["file", "mysql"])
def failed(request, scene, make_database, tmp_path) -> Scene:
    """The scene after an import whose ``events`` table failed, with the file or the mysql checkpoint store."""
    extra = SETTINGS
    if request.param == "mysql":
        extra += f'[checkpoint]\ndriver = "mysql"\nschema = "{make_database("lt_cp")}"\n'
        scene = replace(scene, checkpoint=None)
    write_config(scene.config, scene.task_info, extra)
    _fail_events(scene, tmp_path)
    return scene


@pytest.fixture
def failed_file_store(scene, tmp_path) -> Scene:
    write_config(scene.config, scene.task_info, SETTINGS)
    _fail_events(scene, tmp_path)
    return scene


# --- checkpoint-dump --------------------------------------------------------------------------------------


def test_dump_shows_the_failed_status_and_the_committed_progress(failed):
    result = _ctl(failed, "checkpoint-dump")

    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("`")}
    events = lines[failed.table("events")]
    assert "failed at 'all written' (6)" in events
    # The target's markers count the third batch, whose checkpoint save the failure cut off.
    assert f" 0/1  {FAILED_AFTER * BATCH_ROWS:>4}  " in events
    assert "%)" in events
    assert "imported" in lines[failed.table("customers")]
    assert " 1/1 " in lines[failed.table("customers")]
    assert "at byte " in result.stdout and f"{FAILED_AFTER * BATCH_ROWS} rows" in result.stdout
    assert "1 table(s) in an error state" in result.stdout


def test_dump_output_writes_lightnings_three_csv_files(failed_file_store, tmp_path):
    scene = failed_file_store
    folder = tmp_path / "cp-dump"
    result = _ctl(scene, "checkpoint-dump", "--output", str(folder))

    assert result.returncode == 0, result.stderr
    with (folder / "tables.csv").open() as f:
        tables = {row["table_name"]: row for row in csv.DictReader(f)}
    with (folder / "engines.csv").open() as f:
        engines = list(csv.DictReader(f))
    with (folder / "chunks.csv").open() as f:
        chunks = [row for row in csv.DictReader(f) if row["table_name"] == scene.table("events")]
    assert set(tables) == {scene.table(t) for t in ("customers", "orders", "events")}
    assert tables[scene.table("events")]["status"] == "6"
    assert tables[scene.table("events")]["status_name"] == "failed at 'all written' (6)"
    assert tables[scene.table("orders")]["status"] == "120"
    assert tables[scene.table("orders")]["chunks_done"] == "2"
    assert len(engines) == 3
    assert [(c["rows"], c["finished"]) for c in chunks] == [(str(FAILED_AFTER * BATCH_ROWS), "0")]
    assert int(chunks[0]["pos"]) > int(chunks[0]["offset"])


def test_dump_in_lightnings_flag_form(failed_file_store, tmp_path):
    folder = tmp_path / "flag-form"
    result = run_lightning("ctl", "--checkpoint-dump", str(folder), *failed_file_store.args())

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["chunks.csv", "engines.csv", "tables.csv"]


# --- checkpoint-error-ignore ------------------------------------------------------------------------------


def test_error_ignore_then_rerun_completes_exactly(failed):
    refused = _import(failed)
    assert refused.returncode == 1
    assert f"table {failed.table('events')} failed in an earlier run" in refused.stderr
    assert "checkpoint-error-ignore" in refused.stderr

    ignored = _ctl(failed, "checkpoint-error-ignore", f"{failed.db}.events")
    assert ignored.returncode == 0, ignored.stderr
    assert f"cleared the error state of {failed.table('events')}" in ignored.stdout

    result = _import(failed)

    assert result.returncode == 0, result.stderr
    rows = summary_rows(result.stdout)
    assert {name: (cells[0], cells[3]) for name, cells in rows.items()} == {
        failed.table(t): (str(SHOP_ROWS), "ok") for t in ("customers", "orders", "events")
    }
    for table in ("customers", "orders", "events"):
        assert count_rows(failed.server, failed.db, table) == SHOP_ROWS


def test_error_ignore_after_raising_max_error_keeps_the_bad_row_out(scene):
    (scene.dump / f"{scene.db}.nums-schema.sql").write_text(
        "CREATE TABLE `nums` (`id` int NOT NULL PRIMARY KEY, `n` tinyint);\n"
    )
    (scene.dump / f"{scene.db}.nums.sql").write_text("INSERT INTO `nums` VALUES (1,1),(2,300),(3,3);\n")
    assert run_lightning("import", *scene.args()).returncode == 1
    write_config(scene.config, scene.task_info, "max-error = 1\n")

    assert _ctl(scene, "checkpoint-error-ignore", "all").returncode == 0
    result = _import(scene)

    assert result.returncode == 0, result.stderr
    cells = summary_rows(result.stdout)[scene.table("nums")]
    assert (cells[0], cells[3], cells[4]) == ("2", "ok", "1 type")
    assert "type_error_v1 WHERE task_id = " in result.stdout
    conn = scene.server.connect()
    with conn.cursor() as cur:
        cur.execute(f"SELECT id FROM `{scene.db}`.nums ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == [1, 3]
        cur.execute(f"SELECT row_data FROM `{scene.task_info}`.type_error_v1")
        assert [r[0] for r in cur.fetchall()] == ["(2,300)"]
    conn.close()


def test_error_ignore_on_a_table_that_did_not_fail_changes_nothing(failed_file_store):
    result = _ctl(failed_file_store, "checkpoint-error-ignore", failed_file_store.table("customers"))

    assert result.returncode == 0, result.stderr
    assert "nothing to do" in result.stdout
    assert "failed at 'all written' (6)" in _ctl(failed_file_store, "checkpoint-dump").stdout


# --- checkpoint-error-destroy -----------------------------------------------------------------------------


def test_error_destroy_then_rerun_imports_the_table_from_scratch(failed):
    destroyed = _ctl(failed, "checkpoint-error-destroy", failed.table("events"))

    assert destroyed.returncode == 0, destroyed.stderr
    assert f"dropped {failed.table('events')} in the target" in destroyed.stdout
    assert not table_exists(failed.server, failed.db, "events")
    dump = _ctl(failed, "checkpoint-dump").stdout
    assert failed.table("events") not in dump
    assert failed.table("customers") in dump

    result = _import(failed)

    assert result.returncode == 0, result.stderr
    rows = summary_rows(result.stdout)
    assert (rows[failed.table("events")][0], rows[failed.table("events")][3]) == (str(SHOP_ROWS), "ok")
    assert count_rows(failed.server, failed.db, "events") == SHOP_ROWS
    assert count_rows(failed.server, failed.db, "customers") == SHOP_ROWS


def test_error_destroy_leaves_tables_that_did_not_fail_alone(failed_file_store):
    scene = failed_file_store
    result = _ctl(scene, "checkpoint-error-destroy", scene.table("customers"))

    assert result.returncode == 0, result.stderr
    assert "nothing destroyed" in result.stdout
    assert count_rows(scene.server, scene.db, "customers") == SHOP_ROWS


def test_error_destroy_forgets_the_tables_error_rows_so_the_rerun_counts_them_once(scene, tmp_path):
    # Row 2 is bad (recorded, within max-error = 1); the failpoint then stops the table after batch 3.
    (scene.dump / f"{scene.db}.nums-schema.sql").write_text(
        "CREATE TABLE `nums` (`id` int NOT NULL PRIMARY KEY, `n` tinyint);\n"
    )
    (scene.dump / f"{scene.db}.nums.sql").write_text(
        "INSERT INTO `nums` VALUES (1,1),(2,300),(3,3),(4,4),(5,5);\n"
    )
    write_config(scene.config, scene.task_info, "max-error = 1\n[tikv-importer]\nlogical-import-batch-rows = 1\n")
    points = tmp_path / "failpoints.json"
    points.write_text(json.dumps({"fail-after-batches": {"table": scene.table("nums"), "batches": 3}}))
    failed = run_lightning("import", *scene.args(), env={"LIGHTNING_FAILPOINTS": str(points)})
    assert failed.returncode == 1, failed.stderr

    assert _ctl(scene, "checkpoint-error-destroy", "all").returncode == 0
    result = _import(scene)

    assert result.returncode == 0, result.stderr
    assert summary_rows(result.stdout)[scene.table("nums")][4] == "1 type"
    conn = scene.server.connect()
    with conn.cursor() as cur:
        cur.execute(f"SELECT id FROM `{scene.db}`.nums ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == [1, 3, 4, 5]
        cur.execute(f"SELECT COUNT(*) FROM `{scene.task_info}`.type_error_v1")
        assert cur.fetchone()[0] == 1
    conn.close()


# --- checkpoint-remove ------------------------------------------------------------------------------------


def test_remove_forgets_the_checkpoint_but_keeps_the_rows_so_the_precheck_stops_the_rerun(failed_file_store):
    scene = failed_file_store
    committed = count_rows(scene.server, scene.db, "events")
    result = _ctl(scene, "checkpoint-remove", scene.table("events"))

    assert result.returncode == 0, result.stderr
    assert "the target table keeps its rows" in result.stdout
    assert count_rows(scene.server, scene.db, "events") == committed == FAILED_AFTER * BATCH_ROWS
    rerun = _import(scene)
    assert rerun.returncode == 1
    assert f"{scene.table('events')} already hold rows" in rerun.stderr

    # As documented: empty the table (or merge with strategy replace / ignore), and the rerun completes.
    conn = scene.server.connect()
    with conn.cursor() as cur:
        cur.execute(f"TRUNCATE TABLE `{scene.db}`.events")
    conn.close()
    result = _import(scene)

    assert result.returncode == 0, result.stderr
    assert summary_rows(result.stdout)[scene.table("events")][3] == "ok"
    assert count_rows(scene.server, scene.db, "events") == SHOP_ROWS


def test_remove_all_deletes_the_checkpoint_file(failed_file_store):
    scene = failed_file_store
    result = _ctl(scene, "checkpoint-remove", "all")

    assert result.returncode == 0, result.stderr
    assert "removed all checkpoints" in result.stdout
    assert not scene.checkpoint.exists()
    assert "no checkpoints" in _ctl(scene, "checkpoint-dump").stdout


# --- table names ------------------------------------------------------------------------------------------


def test_an_unknown_table_is_an_error_that_lists_the_known_ones(failed_file_store):
    scene = failed_file_store
    result = _ctl(scene, "checkpoint-error-ignore", f"{scene.db}.nosuch")

    assert result.returncode == 1
    assert f"no checkpoint for table `{scene.db}`.`nosuch`" in result.stderr
    assert scene.table("events") in result.stderr
    assert "Traceback" not in result.stderr


def test_ctl_finds_the_checkpoint_file_without_the_source(failed_file_store):
    scene = failed_file_store
    result = run_lightning(
        "ctl", "checkpoint-dump", "-c", str(scene.config), "--target", scene.server.url,
        "--checkpoint-file", str(scene.checkpoint),
    )

    assert result.returncode == 0, result.stderr
    assert "failed at 'all written' (6)" in result.stdout
