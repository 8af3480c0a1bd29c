"""Dump files as an attacker would write them, imported by the real ``lightning`` command.

Decompression bombs (a few hundred KB that inflate to hundreds of MB) must import in bounded memory: the
peak resident memory of the whole process tree is sampled while it runs and must stay under
``MEMORY_BOUND``. Before the decoders capped their output, the zstd bomb below reached ~435 MB in the
decompressor alone (and a 320 KB one reached 4 GB); schema bombs were read whole into memory.
"""

from __future__ import annotations

import gzip
import subprocess
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import snappy
import zstandard

from airflow_provider_lightning.core.errors import SourceError
from airflow_provider_lightning.core.storage import (
    MAX_DECOMPRESSED_PIECE,
    Compression,
    LocalStorage,
    open_source_file,
)

from tests.core.test_cli import LIGHTNING, assert_no_traceback, count_rows, lightning_env, write_config

MIB = 1024 * 1024
MEMORY_BOUND = 300 * MIB
BOMB_ROWS = 4


# --- helpers ---------------------------------------------------------------------------------------------


def run_measured(args: list[str], timeout: float = 120) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``lightning`` and return its result and the peak RSS of its whole process tree (sampled)."""
    out_path = Path(args[args.index("--source") + 1]).parent / "out.txt"
    err_path = out_path.with_name("err.txt")
    with out_path.open("w") as out, err_path.open("w") as err:
        command = [str(LIGHTNING), *args]
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=lightning_env())
        peak = 0
        root = psutil.Process(proc.pid)
        try:
            while True:
                try:
                    tree = [root, *root.children(recursive=True)]
                    peak = max(peak, sum(p.memory_info().rss for p in tree))
                except psutil.NoSuchProcess:
                    pass
                try:
                    code = proc.wait(timeout=0.02)
                    break
                except subprocess.TimeoutExpired:
                    continue
        finally:  # a test stopped by its timeout must not leave a bomb inflating
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    result = subprocess.CompletedProcess(args, code, out_path.read_text(), err_path.read_text())
    return result, peak


def frame(kind: str, data: bytes) -> bytes:
    """``data`` as one self-contained gzip member, zstd frame or run of snappy chunks: such pieces
    concatenate into a valid file, so a bomb is built from one compressed block of padding, repeated."""
    if kind == "gz":
        return gzip.compress(data, compresslevel=9)
    if kind == "zst":
        return zstandard.ZstdCompressor(level=3).compress(data)
    return snappy.StreamCompressor().compress(data)[len(SNAPPY_HEADER) :]


SNAPPY_HEADER = b"\xff\x06\x00\x00sNaPpY"


def padded_sql_bomb(kind: str, table: str, rows: int, inflated: int) -> bytes:
    """A valid SQL data file: ``rows`` one-row INSERTs, each followed by MiBs of blank lines, ``inflated``
    bytes in all, compressed to a few hundred KB."""
    padding = frame(kind, (b" " * 1023 + b"\n") * 1024)
    pieces = [SNAPPY_HEADER] if kind == "snappy" else []
    for i in range(1, rows + 1):
        pieces.append(frame(kind, f"INSERT INTO `{table}` VALUES ({i},'row {i}');\n".encode()))
        pieces.extend([padding] * (inflated // rows // MIB))
    return b"".join(pieces)


def giant_literal_bomb(kind: str, table: str, size: int) -> bytes:
    """One row whose string literal is ``size`` bytes long (closed: a genuine, if absurd, row)."""
    filler = frame(kind, b"a" * MIB)
    pieces = [SNAPPY_HEADER] if kind == "snappy" else []
    pieces.append(frame(kind, f"INSERT INTO `{table}` VALUES (1,'".encode()))
    pieces.extend([filler] * (size // MIB))
    pieces.append(frame(kind, b"');\n"))
    return b"".join(pieces)


def write_dump(dump: Path, db: str, data: dict[str, bytes], schema: bytes | None = None) -> Path:
    dump.mkdir(parents=True, exist_ok=True)
    (dump / f"{db}-schema-create.sql").write_text(f"CREATE DATABASE `{db}`;\n")
    (dump / f"{db}.t-schema.sql").write_bytes(
        schema if schema is not None else b"CREATE TABLE `t` (`id` INT PRIMARY KEY, `v` VARCHAR(20));\n"
    )
    for name, content in data.items():
        (dump / name).write_bytes(content)
    return dump


@pytest.fixture
def import_args(mysql_server, make_database, tmp_path) -> Callable[..., list[str]]:
    task_info = make_database("lt_ti")

    def args(dump: Path, config: str = "") -> list[str]:
        config_file = write_config(tmp_path / "tidb-lightning.toml", task_info, config)
        return [
            "import", "-c", str(config_file), "--source", str(dump), "--target", mysql_server.url,
            "--checkpoint-file", str(tmp_path / "cp.json"),
        ]

    return args


# --- the decoders' output cap ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gz", "zst", "snappy"])
def test_reading_a_bomb_holds_a_few_mib_at_a_time_whatever_the_read_block_size(kind, tmp_path):
    blank = frame(kind, b" " * (16 * MIB))
    (tmp_path / f"bomb.{kind}").write_bytes((SNAPPY_HEADER if kind == "snappy" else b"") + blank * 16)
    compression = Compression.parse(kind)

    tracemalloc.start()
    try:
        with open_source_file(LocalStorage(tmp_path), f"bomb.{kind}", compression, block_size=4 * MIB) as f:
            total = sum(len(block) for block in iter(lambda: f.read(64 * 1024), b""))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total == 256 * MIB
    # a block of compressed input, the buffered reader's block, and one piece's output (up to three times
    # while the decoder assembles it); without the cap, one read of this 4 MiB block inflated to 256 MiB
    assert peak < 2 * 4 * MIB + 3 * MAX_DECOMPRESSED_PIECE


# --- decompression bombs as data files -------------------------------------------------------------------


# gzip expands at most ~1000:1, so with the default 64 KiB read block the unbounded decoder made at most
# ~66 MB per read; a larger read-block-size (a documented knob) lets one read inflate the whole bomb.
@pytest.mark.parametrize(
    ("kind", "inflated", "config"),
    [
        ("zst", 400 * MIB, ""),
        ("gz", 400 * MIB, '[mydumper]\nread-block-size = "4MiB"\n'),
        ("snappy", 100 * MIB, ""),
    ],
)
def test_a_decompression_bomb_data_file_imports_in_bounded_memory(
    kind, inflated, config, mysql_server, fresh_database, import_args, tmp_path
):
    db = fresh_database
    bomb = padded_sql_bomb(kind, "t", BOMB_ROWS, inflated)
    assert len(bomb) * 15 < inflated  # a bomb: it inflates at least fifteenfold (snappy's limit is ~21)
    dump = write_dump(tmp_path / "dump", db, {f"{db}.t.000000001.sql.{kind}": bomb})

    result, peak = run_measured(import_args(dump, config))

    assert result.returncode == 0, result.stderr
    assert count_rows(mysql_server, db, "t") == BOMB_ROWS
    assert peak < MEMORY_BOUND, f"peak RSS {peak / MIB:.0f} MiB"


# The precheck samples the file and stops at the packet; without it, the import's parser does.
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ((), "at byte 23: a row longer than "),
        (("--check-requirements", "false"), "at byte 23: line 1: row larger than "),
    ],
)
def test_a_giant_string_literal_fails_at_the_packet_limit_naming_file_and_offset_in_bounded_memory(
    flags, message, mysql_server, fresh_database, import_args, tmp_path
):
    db = fresh_database
    path = f"{db}.t.000000001.sql.zst"
    dump = write_dump(tmp_path / "dump", db, {path: giant_literal_bomb("zst", "t", 200 * MIB)})

    result, peak = run_measured([*import_args(dump), *flags])

    assert result.returncode == 1
    assert_no_traceback(result)
    assert f"{path} {message}" in result.stderr
    assert "max_allowed_packet" in result.stderr
    assert peak < MEMORY_BOUND, f"peak RSS {peak / MIB:.0f} MiB"


# --- decompression bombs as schema files -----------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["gz", "zst", "snappy"])
def test_a_schema_bomb_is_refused_naming_the_file_and_the_limit(
    kind, mysql_server, fresh_database, import_args, tmp_path
):
    db = fresh_database
    blank = frame(kind, (b" " * 1023 + b"\n") * 1024)
    pieces = [SNAPPY_HEADER] if kind == "snappy" else []
    # 1 GiB of blank lines, then a valid CREATE TABLE: only a reader without a limit ever reaches it.
    bomb = b"".join([*pieces, *[blank] * 1024, frame(kind, b"CREATE TABLE `t` (`id` INT PRIMARY KEY);\n")])
    dump = write_dump(tmp_path / "dump", db, {}, schema=b"")
    (dump / f"{db}.t-schema.sql").unlink()
    (dump / f"{db}.t-schema.sql.{kind}").write_bytes(bomb)
    (dump / f"{db}.t.000000001.sql").write_text("INSERT INTO `t` VALUES (1);\n")

    result, peak = run_measured(import_args(dump))

    assert result.returncode != 0
    assert_no_traceback(result)
    assert (
        f"{db}.t-schema.sql.{kind}: the file is larger than 67108864 bytes (64 MiB) once decompressed, the "
        "limit for a schema file" in result.stderr
    )
    assert peak < MEMORY_BOUND, f"peak RSS {peak / MIB:.0f} MiB"


# --- names that would rewrite the terminal or forge a log line -------------------------------------------


def test_names_with_escape_codes_and_newlines_are_shown_escaped_in_the_output_and_the_log(
    mysql_server, fresh_database, import_args, tmp_path
):
    db = fresh_database
    table = "red\x1b[31mX\x1b[2J\u202eabc"  # colour, clear screen, right-to-left override
    forged = "n\n2026-12-07 00:00:00,000 ERROR forged"  # a file whose name holds a log line of its own
    dump = write_dump(tmp_path / "dump", db, {})
    (dump / f"{db}.t-schema.sql").rename(dump / f"{db}.{table}-schema.sql")
    (dump / f"{db}.{table}.000000001.sql").write_text("INSERT INTO `t` VALUES (1,'a'),(2,'b');\n")
    (dump / f"{db}.{forged}.000000001.sql").write_text("INSERT INTO `t` VALUES (1,'a');\n")
    log_file = tmp_path / "lightning.log"

    result, _ = run_measured([*import_args(dump), "--log-file", str(log_file)])

    assert result.returncode == 0, result.stderr
    assert count_rows(mysql_server, db, table) == 2  # the table has its real name in the target
    shown = r"red\x1b[31mX\x1b[2J\u202eabc"
    assert f"`{db}`.`{shown}`" in result.stdout
    log = log_file.read_text()
    assert f"table `{db}`.`{shown}`: 2 rows imported" in log
    assert r"n\n2026-12-07 00:00:00,000 ERROR forged.000000001.sql" in log
    for output in (result.stdout, result.stderr, log):
        assert "\x1b" not in output and "\u202e" not in output
    assert not any(line.startswith("2026-12-07 00:00:00,000") for line in log.splitlines())


# --- dangling symbolic links -----------------------------------------------------------------------------


def test_a_dangling_symlink_beside_a_good_dump_is_one_warning_and_the_import_succeeds(
    mysql_server, fresh_database, import_args, tmp_path
):
    db = fresh_database
    rows = b"INSERT INTO `t` VALUES (1,'a'),(2,'b');\n"
    dump = write_dump(tmp_path / "dump", db, {f"{db}.t.000000001.sql": rows})
    (dump / "notes").mkdir()
    (dump / "notes" / "README.md").symlink_to(tmp_path / "gone.md")

    result, _ = run_measured(import_args(dump))

    assert result.returncode == 0, result.stderr
    assert count_rows(mysql_server, db, "t") == 2
    warnings = [line for line in result.stderr.splitlines() if " WARNING " in line]
    assert warnings == [
        f"{warnings[0][:23]} WARNING notes/README.md is a symbolic link to {tmp_path / 'gone.md'}, which "
        "does not exist; it is not imported (it is no data or schema file of an imported table): remove the "
        "link, or restore its target if it was meant to be read"
    ]


@pytest.mark.parametrize(
    ("name", "kind"), [("t.000000002.sql", "data file"), ("t-schema.sql", "table schema file")]
)
def test_a_dangling_symlink_that_the_import_needs_is_a_clear_error_naming_it(
    name, kind, mysql_server, fresh_database, import_args, tmp_path
):
    db = fresh_database
    dump = write_dump(tmp_path / "dump", db, {f"{db}.t.000000001.sql": b"INSERT INTO `t` VALUES (1,'a');\n"})
    link = dump / f"{db}.{name}"
    link.unlink(missing_ok=True)
    link.symlink_to(tmp_path / "gone.sql")

    result, _ = run_measured(import_args(dump))

    assert result.returncode == 1
    assert_no_traceback(result)
    assert (
        f"{db}.{name}: a symbolic link to {tmp_path / 'gone.sql'}, which does not exist, and this file is "
        f"needed: it is the {kind} of `{db}`.`t`. Restore the link's target" in result.stderr
    )
    assert "copy these files again" not in result.stderr


# --- prechecks read only what they sample ----------------------------------------------------------------


def test_the_row_size_precheck_reads_its_sample_not_on_to_the_next_row(tmp_path, mysql_server):
    from tests.core.test_precheck import _env, _rows_check, _write

    # One small row, 40 MiB of blank lines, then a row too long for the packet: far beyond the 4 MiB sample.
    blank = frame("zst", (b" " * 1023 + b"\n") * 1024)
    data = b"".join([
        frame("zst", b"INSERT INTO t VALUES (1,'a');\n"),
        *[blank] * 40,
        frame("zst", b"INSERT INTO t VALUES (2,'" + b"x" * (2 * MIB) + b"');\n"),
    ])
    source = _write(tmp_path / "src", {"db.t.000000001.sql.zst": data})

    item = _rows_check(_env(source, mysql_server), MIB)

    assert item.passed, item.message
    assert item.message.startswith("sampled the first 4.0 MiB of 1 file(s) larger than the packet")
    assert "rows further in are checked as they are imported" in item.message


def test_an_error_about_a_file_shows_its_name_escaped_and_keeps_the_real_path(tmp_path):
    name = "bad\x1b[2J\u202e.sql.gz"
    (tmp_path / name).write_bytes(b"\x1f\x8b" + b"not deflate data")

    with pytest.raises(SourceError) as caught:
        with open_source_file(LocalStorage(tmp_path), name, Compression.GZ) as f:
            f.read()

    assert str(caught.value).startswith(r"bad\x1b[2J\u202e.sql.gz at byte 0: corrupt gz data")
    assert caught.value.path == name
