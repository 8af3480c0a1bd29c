"""Dumps made by the real tools, and the two ways of loading them: ``lightning import`` and ``mariadb``.

A dump is a directory in mydumper's layout. ``mariadb-dump`` writes one file; :func:`split_mariadb_dump` cuts
it into mydumper's file names the way a user's splitting script would: every file starts with the dump's
session header (``SET NAMES``, ``TIME_ZONE``, ``SQL_MODE``...), so that each one means on its own what it
meant inside the whole dump.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

LIGHTNING = Path(sys.executable).with_name("lightning")


@dataclass(frozen=True)
class DumpVariant:
    """One way of dumping: the tool and its options. ``name`` is the test id."""

    name: str
    tool: str  # "mydumper" or "mariadb-dump"
    options: tuple[str, ...]
    # Options the oracle's client needs to read the files: the client splits statements itself, and reads a
    # GBK file right only when told its charset (the `SET NAMES` inside the file does not tell its lexer).
    client_options: tuple[str, ...] = ()


# Tables mydumper leaves out: mydumper 0.10 writes INET4/INET6/UUID values as text under SET NAMES binary,
# where MariaDB reads a string as the type's raw bytes, so no client loads them back ("Incorrect inet4
# value: '0.0.0.0'"): there is no oracle.
MYDUMPER_UNLOADABLE_TABLES = ("mariadb_types",)


DUMP_VARIANTS = (
    DumpVariant("mydumper", "mydumper", ()),
    DumpVariant("mydumper-rows", "mydumper", ("--rows", "4")),
    DumpVariant("mydumper-compress", "mydumper", ("--compress",)),
    # many INSERT statements per file, as big tables get them
    DumpVariant("mydumper-short-statements", "mydumper", ("--statement-size", "2000", "--complete-insert")),
    DumpVariant("mariadb-dump-utf8mb4", "mariadb-dump", ("--default-character-set=utf8mb4",)),
    DumpVariant("mariadb-dump-latin1", "mariadb-dump", ("--default-character-set=latin1",)),
    # GBK strings hold 0x5C (a backslash) as a second byte, unescaped: only a charset-aware reader reads them
    DumpVariant(
        "mariadb-dump-gbk",
        "mariadb-dump",
        ("--default-character-set=gbk",),
        client_options=("--default-character-set=gbk",),
    ),
    DumpVariant("mariadb-dump-one-row-per-insert", "mariadb-dump", ("--extended-insert=0",)),
    DumpVariant("mariadb-dump-complete-insert", "mariadb-dump", ("--complete-insert",)),
    DumpVariant("mariadb-dump-hex-blob", "mariadb-dump", ("--hex-blob",)),
    DumpVariant("mariadb-dump-insert-ignore", "mariadb-dump", ("--insert-ignore",)),
    DumpVariant("mariadb-dump-replace", "mariadb-dump", ("--replace",)),
    DumpVariant("mariadb-dump-short-inserts", "mariadb-dump", ("--net-buffer-length=4096",)),
)


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed; run the suite with ./scripts/test, which installs it")


def _connection_args(server) -> list[str]:
    return ["-h", server.host, "-P", str(server.port), "-u", server.user, f"-p{server.password}"]


def dump(server, database: str, variant: DumpVariant, outdir: Path) -> Path:
    """Dump ``database`` with ``variant`` into ``outdir``, in mydumper's layout."""
    _require(variant.tool)
    if variant.tool == "mydumper":
        left_out = "|".join(re.escape(f"{database}.{table}") for table in MYDUMPER_UNLOADABLE_TABLES)
        subprocess.run(
            [
                "mydumper",
                "-h",
                server.host,
                "-P",
                str(server.port),
                "-u",
                server.user,
                "-p",
                server.password,
                "-B",
                database,
                "-o",
                str(outdir),
                *variant.options,
                "--regex",
                f"^(?!({left_out})$)",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        return outdir
    single = outdir.with_suffix(".sql")
    subprocess.run(
        [
            "mariadb-dump",
            *_connection_args(server),
            *variant.options,
            "--databases",
            database,
            f"--result-file={single}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    split_mariadb_dump(single.read_bytes(), outdir)
    return outdir


# --- the splitter ---------------------------------------------------------------------------------------

_MARKER = re.compile(
    rb"^--\n-- (Current Database|Table structure for table|Dumping data for table"
    rb"|Dumping routines for database"
    rb"|Temporary table structure for view|Final view structure for view|Dumping events for database):? "
    rb"`((?:[^`]|``)+)`\n--\n",
    re.MULTILINE,
)
_CREATE_DATABASE = re.compile(rb"^CREATE DATABASE .*?;\n", re.MULTILINE | re.DOTALL)
# The statements at the end of a dump that undo its header (SET TIME_ZONE=@OLD_TIME_ZONE ...), and comments
_FOOTER_LINE = re.compile(rb"^(?:/\*!\d+ SET .*@OLD_.*\*/;|--.*|)$")


class UnsplittableDump(ValueError):
    """The dump holds something the splitter does not know how to place (views, routines, events)."""


def split_mariadb_dump(dump: bytes, outdir: Path) -> list[Path]:
    """Cut one ``mariadb-dump --databases`` file into mydumper's files; returns the files written.

    ``db-schema-create.sql`` gets the ``CREATE DATABASE``, ``db.tbl-schema.sql`` the table's structure section
    without its ``DROP TABLE`` (mydumper's schema files create, they never drop), ``db.tbl.000000001.sql``
    the table's data section as it is (``LOCK TABLES`` and all). Each file starts with the dump's header: the
    lines before the first section, which set the session (``SET NAMES`` first of all).
    """
    markers = list(_MARKER.finditer(dump))
    if not markers:
        raise UnsplittableDump(
            "no '-- Current Database' or '-- Table structure' section: not a mariadb-dump file"
        )
    header = dump[: markers[0].start()]
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    database: bytes | None = None
    for i, marker in enumerate(markers):
        kind = marker.group(1)
        name = marker.group(2).replace(b"``", b"`")
        end = markers[i + 1].start() if i + 1 < len(markers) else _footer_start(dump)
        body = dump[marker.end() : end]
        if kind == b"Current Database":
            database = name
            create = _CREATE_DATABASE.search(body)
            if create is None:
                raise UnsplittableDump(f"no CREATE DATABASE for `{name.decode(errors='replace')}`")
            written.append(_write(outdir / f"{_fs(name)}-schema-create.sql", header + create.group(0)))
        elif database is None:
            raise UnsplittableDump("a table before any '-- Current Database': dump with --databases")
        elif kind == b"Table structure for table":
            body = re.sub(rb"^DROP TABLE IF EXISTS .*;\n", b"", body, flags=re.MULTILINE)
            written.append(_write(outdir / f"{_fs(database)}.{_fs(name)}-schema.sql", header + body))
        elif kind == b"Dumping data for table":
            written.append(_write(outdir / f"{_fs(database)}.{_fs(name)}.000000001.sql", header + body))
        else:
            raise UnsplittableDump(f"{kind.decode()} `{name.decode(errors='replace')}`: not split (yet)")
    return written


def _footer_start(dump: bytes) -> int:
    """Where the trailing footer (restoring statements, blank lines, '-- Dump completed') begins."""
    lines = dump.split(b"\n")
    keep = len(lines)
    while keep > 0 and _FOOTER_LINE.match(lines[keep - 1]):
        keep -= 1
    return len(b"\n".join(lines[:keep])) + (1 if keep else 0)


def _fs(name: bytes) -> str:
    return name.decode("utf-8")


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


# --- the two loaders ------------------------------------------------------------------------------------


def dump_files_in_load_order(dump_dir: Path, database: str) -> list[Path]:
    """The dump's table schema files, then its data files, as ``myloader`` orders them.

    ``db-schema-create.sql`` is left out: the loaders write into a database of their own.
    """
    files = sorted(p for p in dump_dir.iterdir() if p.is_file() and p.name.startswith(f"{database}."))
    schemas = [p for p in files if re.search(r"-schema\.sql(\.gz)?$", p.name)]
    data = [p for p in files if p not in schemas and re.search(r"\.sql(\.gz)?$", p.name)]
    return schemas + data


def load_with_mariadb_client(
    server, database: str, files: Sequence[Path], client_options: Sequence[str] = ()
) -> None:
    """``mariadb database < file`` for each file in turn: the oracle of what the server makes of a dump."""
    _require("mariadb")
    for path in files:
        content = path.read_bytes()
        if path.suffix == ".gz":
            content = gzip.decompress(content)
        run = subprocess.run(
            ["mariadb", *_connection_args(server), *client_options, database],
            input=content,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if run.returncode != 0:
            raise AssertionError(
                f"the mariadb client refused {path.name}: {run.stderr.decode(errors='replace')}"
            )


def mariadb_client_sql(server, database: str, sql: str) -> None:
    """Run ``sql`` with the ``mariadb`` client (``--local-infile=1`` so LOAD DATA LOCAL works)."""
    run = subprocess.run(
        ["mariadb", *_connection_args(server), "--local-infile=1", database, "-e", sql],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if run.returncode != 0:
        raise AssertionError(f"the mariadb client refused {sql!r}: {run.stderr.decode(errors='replace')}")


@dataclass(frozen=True)
class LightningRun:
    returncode: int
    output: str

    def summary(self) -> str:
        """What the import said went wrong: its last message, from 'import failed' on when it says so."""
        start = self.output.rfind("import failed")
        tail = self.output[start:] if start >= 0 else self.output[-3000:]
        return f"lightning import exited {self.returncode}: {tail[:3000]}"


def import_with_lightning(
    server,
    source: Path,
    source_database: str,
    target: str,
    task_info: str,
    workdir: Path,
    extra_config: str = "",
) -> LightningRun:
    """``lightning import`` of ``source``, its database routed to ``target``: the real CLI, a subprocess."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "tidb-lightning.toml"
    config.write_text(
        "[lightning]\n"
        f'task-info-schema-name = "{task_info}"\n'
        "region-concurrency = 2\n"
        "table-concurrency = 2\n"
        "[[routes]]\n"
        f'schema-pattern = "{source_database}"\n'
        f'target-schema = "{target}"\n' + extra_config
    )
    run = subprocess.run(
        [
            str(LIGHTNING),
            "import",
            "--source",
            str(source),
            "--target",
            server.url,
            "-c",
            str(config),
            "--checkpoint-file",
            str(workdir / "checkpoints.json"),
            "--no-progress",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "XDG_STATE_HOME": str(workdir / "state")},
    )
    return LightningRun(run.returncode, run.stdout + run.stderr)
