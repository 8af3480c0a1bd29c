"""The ``lightning`` command, run as a real process against the real MariaDB.

Every test starts ``.venv/bin/lightning`` as a subprocess (a pseudo-terminal for the live display) and
checks what a user sees: the exit code, the summary, the messages, and the target's tables.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_provider_lightning.core import sample

LIGHTNING = Path(sys.executable).parent / "lightning"
SHOP_ROWS = 40  # customers 40, orders 40 over 2 files, events 40 (no key)


# --- helpers (test_ctl.py uses them too) -----------------------------------------------------------------


def run_lightning(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed ``lightning`` command with its output captured (a pipe: no live display)."""
    return subprocess.run(
        [str(LIGHTNING), *args], check=False, capture_output=True, text=True, timeout=timeout,
        env=lightning_env(env),
    )


def lightning_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LIGHTNING_FAILPOINTS"}
    # The default checkpoint file lives under XDG_STATE_HOME: never the user's own.
    env["XDG_STATE_HOME"] = env.get("LIGHTNING_TEST_STATE_HOME", "/tmp/lightning-tests-state")
    env.update(extra or {})
    return env


def write_shop_dump(out: Path, schema: str, rows: int = SHOP_ROWS) -> Path:
    """The sample shop tables (customers, orders in 2 files, events without a key) in database ``schema``."""
    customers, orders, events = sample.SHOP_TABLES
    sample.write_table(out, replace(customers, schema=schema), rows)
    sample.write_table(out, replace(orders, schema=schema), rows, files=2)
    sample.write_table(out, replace(events, schema=schema), rows)
    return out


def write_config(path: Path, task_info_schema: str, extra: str = "") -> Path:
    """A tidb-lightning.toml with the test's own task-info schema and small concurrency."""
    path.write_text(
        "[lightning]\n"
        f'task-info-schema-name = "{task_info_schema}"\n'
        "region-concurrency = 2\n"
        "table-concurrency = 2\n"
        + extra
    )
    return path


def count_rows(server, schema: str, table: str) -> int:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM `{schema}`.`{table}`")
            return cur.fetchone()[0]
    finally:
        conn.close()


def table_exists(server, schema: str, table: str) -> bool:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                (schema, table),
            )
            return cur.fetchone()[0] == 1
    finally:
        conn.close()


def summary_rows(stdout: str) -> dict[str, list[str]]:
    """The rows of the end-of-import table, by table name: [rows, bytes, seconds, checksum, ...]."""
    rows = {}
    for line in stdout.splitlines():
        match = re.match(r"(`[^`]+`\.`[^`]+`)\s+(.*)$", line)
        if match:
            rows[match.group(1)] = re.split(r"\s{2,}", match.group(2).strip())
    return rows


@dataclass
class Scene:
    """A target database, a task-info database of its own, a dump and a config for them."""

    server: object
    db: str
    task_info: str
    dump: Path
    config: Path
    checkpoint: Path

    def table(self, name: str) -> str:
        return f"`{self.db}`.`{name}`"

    def args(self, *more: str) -> list[str]:
        """-c, --source, --target and --checkpoint-file of this scene, then ``more``."""
        return [
            "-c", str(self.config), "--source", str(self.dump), "--target", self.server.url,
            "--checkpoint-file", str(self.checkpoint), *more,
        ]


def build_scene(server, database: str, make_database, tmp_path: Path) -> Scene:
    task_info = make_database("lt_ti")
    return Scene(
        server=server,
        db=database,
        task_info=task_info,
        dump=write_shop_dump(tmp_path / "dump", database),
        config=write_config(tmp_path / "tidb-lightning.toml", task_info),
        checkpoint=tmp_path / "checkpoints.json",
    )


@pytest.fixture
def scene(mysql_server, fresh_database, make_database, tmp_path) -> Scene:
    return build_scene(mysql_server, fresh_database, make_database, tmp_path)


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr + result.stdout


# --- success ----------------------------------------------------------------------------------------------


def test_an_import_prints_a_summary_table_of_every_table(scene):
    log_file = scene.dump.parent / "lightning.log"
    result = run_lightning("import", *scene.args("--log-file", str(log_file)))

    assert result.returncode == 0, result.stderr
    assert re.search(r"^table\s+rows\s+bytes\s+seconds\s+checksum", result.stdout, re.MULTILINE)
    rows = summary_rows(result.stdout)
    assert set(rows) == {scene.table("customers"), scene.table("orders"), scene.table("events")}
    for name, cells in rows.items():
        assert cells[0] == str(SHOP_ROWS), name
        assert cells[3] == "ok", name
    assert re.search(r"^total\s+120\s", result.stdout, re.MULTILINE)
    assert "3 tables, 120 rows imported" in result.stdout
    assert f"Checkpoints: removed the checkpoints from file {scene.checkpoint}" in result.stdout
    assert not scene.checkpoint.exists()
    for table in ("customers", "orders", "events"):
        assert count_rows(scene.server, scene.db, table) == SHOP_ROWS
    # With --log-file the log goes there, and the terminal keeps only warnings.
    assert "checksum ok" in log_file.read_text()
    assert " INFO " not in result.stderr


def test_the_url_form_takes_a_percent_encoded_password_and_never_prints_it(scene, mysql_server):
    user = f"lt_u_{uuid.uuid4().hex[:8]}"
    password = "Pw@:/%2F?#x9"
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
        for db in (scene.db, scene.task_info):
            cur.execute(f"GRANT ALL ON `{db}`.* TO %s@'127.0.0.1'", (user,))
    conn.close()
    try:
        url = f"mysql://{user}:{quote(password, safe='')}@127.0.0.1"  # no port: 3306
        result = run_lightning(
            "import", "-c", str(scene.config), "--source", str(scene.dump), "--target", url,
            "--checkpoint-file", str(scene.checkpoint), "--debug",
        )
    finally:
        conn = mysql_server.connect()
        with conn.cursor() as cur:
            cur.execute("DROP USER %s@'127.0.0.1'", (user,))
        conn.close()

    assert result.returncode == 0, result.stderr
    assert count_rows(scene.server, scene.db, "customers") == SHOP_ROWS
    output = result.stdout + result.stderr
    assert '"password": "******"' in output  # --debug shows the configuration, without it
    assert f'"user": "{user}"' in output
    for form in (password, quote(password, safe=""), quote(password)):
        assert form not in output


def test_target_overrides_the_tidb_section_of_the_config_file(scene, tmp_path):
    write_config(
        scene.config, scene.task_info,
        '[tidb]\nhost = "127.0.0.1"\nport = 1\nuser = "nobody"\npassword = "wrong"\n',
    )
    unreachable = run_lightning(
        "import", "-c", str(scene.config), "--source", str(scene.dump), "--checkpoint-file", str(scene.checkpoint)
    )
    assert unreachable.returncode == 1
    assert "cannot connect to the target database at 127.0.0.1:1 as 'nobody'" in unreachable.stderr
    assert "wrong" not in unreachable.stderr

    result = run_lightning("import", *scene.args())

    assert result.returncode == 0, result.stderr
    assert count_rows(scene.server, scene.db, "orders") == SHOP_ROWS


def test_filter_flags_choose_the_tables(scene):
    result = run_lightning("import", *scene.args("-f", f"{scene.db}.customers", "-f", f"{scene.db}.ev*"))

    assert result.returncode == 0, result.stderr
    assert set(summary_rows(result.stdout)) == {scene.table("customers"), scene.table("events")}
    assert not table_exists(scene.server, scene.db, "orders")


def test_check_requirements_false_skips_the_table_empty_precheck(scene):
    conn = scene.server.connect(scene.db)
    with conn.cursor() as cur:
        cur.execute(sample.SHOP_TABLES[0].create)
        cur.execute("INSERT INTO customers VALUES (100000, 'kept', NULL, 0, '2020-01-01 00:00:00', NULL)")
    conn.close()

    stopped = run_lightning("import", *scene.args())
    assert stopped.returncode == 1
    assert f"{scene.table('customers')} already hold rows" in stopped.stderr
    assert_no_traceback(stopped)

    result = run_lightning("import", *scene.args("--check-requirements", "false"))

    assert result.returncode == 0, result.stderr
    assert count_rows(scene.server, scene.db, "customers") == SHOP_ROWS + 1
    assert summary_rows(result.stdout)[scene.table("customers")][3] == "ok"


# --- failures ---------------------------------------------------------------------------------------------


BAD_ROWS = "INSERT INTO `nums` VALUES (1,1),(2,300),(3,3);\n"
# Where the bad row itself starts in the file.
BAD_ROW_OFFSET = BAD_ROWS.index("(2,300)")


def _bad_value_dump(scene: Scene) -> None:
    (scene.dump / f"{scene.db}.nums-schema.sql").write_text(
        "CREATE TABLE `nums` (`id` int NOT NULL PRIMARY KEY, `n` tinyint);\n"
    )
    (scene.dump / f"{scene.db}.nums.sql").write_text(BAD_ROWS)


def test_a_bad_value_fails_the_table_with_file_and_offset_and_exit_code_1(scene):
    _bad_value_dump(scene)
    result = run_lightning("import", *scene.args())

    assert result.returncode == 1
    assert_no_traceback(result)
    assert f"table {scene.table('nums')}: Out of range value for column 'n'" in result.stderr
    assert f"(file {scene.db}.nums.sql, byte {BAD_ROW_OFFSET})" in result.stderr
    assert "max-error" in result.stderr
    assert f"Progress is kept in file {scene.checkpoint}" in result.stderr
    assert f"{scene.table('nums')}: failed at 'all written' (6)" in result.stderr
    assert f"lightning ctl checkpoint-error-ignore '{scene.table('nums')}'" in result.stderr
    assert f"lightning ctl checkpoint-error-destroy '{scene.table('nums')}'" in result.stderr
    assert result.stdout == ""


def test_debug_adds_the_traceback(scene):
    _bad_value_dump(scene)
    result = run_lightning("import", *scene.args("--debug"))

    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "TooManyErrors" in result.stderr
    assert f"(file {scene.db}.nums.sql, byte {BAD_ROW_OFFSET})" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "--tidb-port", "notaport"], "argument --tidb-port: 'notaport' is not a port number"),
        (["import", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (
            ["import", "-d", "/x", "--target", "mysql://u:p@h", "--tidb-host", "other", "--tidb-password", "p2"],
            "--target already gives the host, password",
        ),
        (
            ["import", "-d", "/x", "--checkpoint-file", "/x.json", "--enable-checkpoint", "false"],
            "--checkpoint-file and --enable-checkpoint=false contradict each other",
        ),
        (["import", "-d", "/x", "--sorted-kv-dir", "/tmp/kv"], "--sorted-kv-dir is for the physical backend"),
        (["import", "-d", "/x", "--target", "http://h/db"], "is not a target URL"),
        (["import", "--target", "mysql://u@h"], "nothing to import"),
        (["ctl", "checkpoint-dump", "--checkpoint-error-ignore", "all"], "give one action at a time"),
        (["ctl", "checkpoint-remove"], "checkpoint-remove needs a table"),
    ],
)
def test_bad_or_contradictory_flags_exit_2_with_the_usage(args, message):
    result = run_lightning(*args)

    assert result.returncode == 2
    assert "usage: lightning " + args[0] in result.stderr
    assert message in result.stderr
    assert_no_traceback(result)


def test_a_config_error_names_the_key_and_exits_2(scene):
    write_config(scene.config, scene.task_info, "[tidb]\nprot = 4000\n")
    result = run_lightning("import", *scene.args())

    assert result.returncode == 2
    assert "config key 'tidb.prot'" in result.stderr
    assert_no_traceback(result)


def test_the_physical_backend_is_refused_with_the_reason(scene):
    result = run_lightning("import", *scene.args("--backend", "local", "--sorted-kv-dir", str(scene.dump.parent / "kv")))

    assert result.returncode == 1
    assert "physical backend" in result.stderr
    assert_no_traceback(result)


# --- progress ---------------------------------------------------------------------------------------------


@pytest.fixture
def big_scene(scene, tmp_path) -> Scene:
    """One table of about 4 MiB in 4 files: long enough (a few tenths of a second) for progress to show."""
    dump = tmp_path / "big"
    sample.write_table(dump, replace(sample.SBTEST, schema=scene.db), 20_000, files=4)
    return replace(scene, dump=dump)


def _run_on_a_terminal(args: list[str], *, interrupt_when: bytes | None = None) -> tuple[int, str]:
    """Run ``lightning`` with a pseudo-terminal as stdin, stdout and stderr; return (exit code, output).

    With ``interrupt_when``, send SIGINT (Ctrl-C) as soon as that text appears.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
    proc = subprocess.Popen([str(LIGHTNING), *args], stdin=slave, stdout=slave, stderr=slave, env=lightning_env())
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            output += data
            if interrupt_when is not None and interrupt_when in output:
                proc.send_signal(signal.SIGINT)
                interrupt_when = None
    finally:
        os.close(master)
    return proc.wait(timeout=30), output.decode("utf-8", errors="replace")


_COLOURS = re.compile(r"\x1b\[[0-9;]*m")


def _frames(output: str) -> list[str]:
    """The live display's frames, without colours: the text between two of rich's redraw sequences (back to
    the line's start and erase it, then up one line and erase it, as many times as the frame is tall)."""
    return [_COLOURS.sub("", frame) for frame in re.split(r"\r\x1b\[2K(?:\x1b\[1A\x1b\[2K)*", output)]


@pytest.mark.slow
def test_a_terminal_gets_a_live_display_redrawn_in_place_ending_at_100_percent(big_scene):
    table = big_scene.table("sbtest")
    code, output = _run_on_a_terminal(["import", *big_scene.args("--progress-interval", "0.05")])

    assert code == 0, output
    frames = [f for f in _frames(output) if table in f and "total (" in f]
    assert len(frames) >= 3  # drawn, then redrawn in place
    # rich pads every cell of a column to the column's width
    table_lines = [line.rstrip() for f in frames for line in f.splitlines() if line.startswith(table)]
    assert any(re.search(r"\s\d{1,2}\.\d%\s.*ETA \d+m\d\ds$", line) for line in table_lines)  # on its way
    final = frames[-1]
    assert re.search(re.escape(table) + r"\s+━{20}\s+3\.8 MiB / 3\.8 MiB\s+100\.0%\s+20,000 rows\s+[\d,]+ rows/s\s+done", final)
    assert "total (1/1 tables done)" in final
    # the summary follows the last frame
    assert "1 tables, 20,000 rows imported" in final


@pytest.mark.slow
def test_a_pipe_gets_plain_progress_lines(big_scene):
    table = big_scene.table("sbtest")
    result = run_lightning("import", *big_scene.args("--progress-interval", "0.05"))

    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if f"INFO progress {table}" in line]
    assert len(lines) >= 2
    assert "ETA" in lines[0]
    assert re.search(r"3\.8 MiB / 3\.8 MiB\s+100\.0%\s+20,000 rows\s+[\d,]+ rows/s\s+done$", lines[-1])


@pytest.mark.slow
def test_ctrl_c_stops_the_import_at_once_and_the_next_run_completes_it_exactly(big_scene):
    write_config(big_scene.config, big_scene.task_info, "[tikv-importer]\nlogical-import-batch-rows = 500\n")
    table = big_scene.table("sbtest")
    code, output = _run_on_a_terminal(
        ["import", *big_scene.args("--progress-interval", "0.02")], interrupt_when=b"rows/s  ETA"
    )

    assert code == 130, output
    assert "interrupted" in output and "run the same command again to resume" in output
    assert "Traceback" not in output
    assert count_rows(big_scene.server, big_scene.db, "sbtest") < 20_000

    result = run_lightning("import", *big_scene.args())

    assert result.returncode == 0, result.stderr
    assert summary_rows(result.stdout)[table][0] == "20,000"
    assert summary_rows(result.stdout)[table][3] == "ok"
    assert count_rows(big_scene.server, big_scene.db, "sbtest") == 20_000


def test_a_frame_taller_than_the_terminal_folds_finished_tables_into_one_line():
    from airflow_provider_lightning.core.cli import progress_lines
    from airflow_provider_lightning.core.importer.progress import TableProgress

    snapshot = [
        TableProgress(f"`db`.`t{i}`", 500, 1000, 10, 1.0, 500, 10, finished=i % 2 == 0) for i in range(10)
    ]
    lines = progress_lines(snapshot, 1.0, bar=True, max_lines=4)

    assert len(lines) == 4
    assert [line.split()[0] for line in lines[:2]] == ["`db`.`t1`", "`db`.`t3`"]
    assert lines[2] == "… 8 more tables (5 done)"
    assert lines[3].startswith("total (5/10 tables done)")


def test_names_in_the_progress_and_the_summary_are_escaped_and_never_read_as_rich_markup():
    from types import SimpleNamespace

    from airflow_provider_lightning.core.cli import progress_lines, render_summary
    from airflow_provider_lightning.core.importer.progress import TableProgress

    name = "`db`.`[bold red]x[/] :smile: \x1b[2J`"
    shown = r"`db`.`[bold red]x[/] :smile: \x1b[2J`"
    lines = progress_lines([TableProgress(name, 5, 10, 1, 1.0, 5, 1, finished=False)], 1.0, bar=True)
    summary = render_summary(
        SimpleNamespace(
            post=[SimpleNamespace(table=name, checksum="ok")],
            tables=[SimpleNamespace(table=name, rows=1, bytes=10, seconds=1.0)],
            errors={}, error_queries=[], cleaned="",
        ),
        1.0,
    )

    assert lines[0].startswith(shown + "  ")
    assert summary.splitlines()[2].startswith(shown + "  ")
    for output in (*lines, summary):
        assert "\x1b" not in output
