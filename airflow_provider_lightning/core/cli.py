"""The ``lightning`` command: run a whole import without Airflow, and maintain its checkpoints.

    lightning import -c tidb-lightning.toml
    lightning import --source ./dump --target mysql://user:pass@127.0.0.1:3306
    lightning ctl checkpoint-dump -c tidb-lightning.toml
    lightning ctl checkpoint-error-ignore '`db`.`tbl`' -c tidb-lightning.toml

A terminal gets a live display (per table: bytes done / total, percent, rows/s, ETA) redrawn in place,
with log lines printed above it; a pipe or a log file gets plain progress lines at a steady interval. The
end of an import prints a summary table, the error-table counts with the queries that show the rows, and
what happened to the checkpoints.

Exit codes: 0 success; 1 the import or the ctl action failed (the reason in a few lines, a traceback only
with ``--debug``); 2 the command line or the configuration is wrong (nothing was attempted); 130
interrupted (the next run resumes).

The flags are TiDB Lightning's where they mean something here (``-d``, ``-f``, ``--backend``,
``--tidb-host`` / ``--tidb-port`` / ``--tidb-user`` / ``--tidb-password``, ``--check-requirements``,
``--enable-checkpoint``, ``--no-schema``, ``--checksum``, ``--analyze``, ``-L``, ``--log-file``), and,
as in Lightning, they override the config file. The target password is never printed, nor logged.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import logging
import os
import re
import shlex
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from rich.box import Box
from rich.console import Console as RichConsole
from rich.console import RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from airflow_provider_lightning import __version__
from airflow_provider_lightning.core.errors import ConfigError, LightningError, printable
from airflow_provider_lightning.core.mysql_url import MySQLURL, MySQLURLError, parse_mysql_url, redact_mysql_url

if TYPE_CHECKING:
    from airflow_provider_lightning.core.config import Config

log = logging.getLogger("airflow_provider_lightning.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PACKAGE_LOGGER = "airflow_provider_lightning"
_BAR_WIDTH = 20
# Plain text (a pipe, a log file, the summary) is never wrapped: a reader's terminal folds long lines.
_PLAIN_WIDTH = 10_000
# The summary's rule under the header and above the total, in ASCII so that any stdout can print it.
_SUMMARY_BOX = Box("    \n    \n -- \n    \n    \n -- \n    \n    \n", ascii=True)
LIVE_INTERVAL = 0.5
PLAIN_INTERVAL = 30.0
_NO_SOURCE = "(no source given)"
_URL_SCHEMES = ("mysql", "mariadb", "tidb")


class UsageError(Exception):
    """The command line is wrong: a bad or contradictory flag. Exit code 2, with the usage line."""


# --- flags -> configuration overrides ----------------------------------------------------------------


def target_overrides(url: str) -> dict[str, Any]:
    """``mysql://USER[:PASS]@HOST[:PORT]`` as ``[tidb]`` overrides; the password may be percent-encoded or
    written as it is (the user part ends at the last ``@``).

    The host and the port (3306 when absent) always come from the URL. A user in the URL brings its
    password with it (none when the URL has none); without a user the config's user and password stay.
    """
    parts = _parse_target(url)
    overrides: dict[str, Any] = {"tidb.host": parts.host, "tidb.port": parts.port or 3306}
    if parts.user is not None:
        overrides["tidb.user"] = parts.user
        overrides["tidb.password"] = parts.password if parts.password is not None else ""
    return overrides


def _parse_target(url: str) -> MySQLURL:
    shown = redact_url(url)
    try:
        parts = parse_mysql_url(url)
    except MySQLURLError as exc:
        raise UsageError(f"--target {shown}: {exc}") from None
    if parts.scheme not in _URL_SCHEMES:
        raise UsageError(f"--target {shown} is not a target URL; write it as mysql://USER[:PASSWORD]@HOST[:PORT]")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(
            f"--target {shown}: give only the server, mysql://USER[:PASSWORD]@HOST[:PORT]; the databases "
            "come from the dump (and [[routes]])"
        )
    return parts


def redact_url(url: str) -> str:
    """The URL with its password (if any) replaced by ``******``."""
    return redact_mysql_url(url)


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "t", "true", "yes", "on"):
        return True
    if value in ("0", "f", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean; write true or false")


def _parse_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (1 to 65535)")
    return port


def _parse_interval(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return seconds


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The dotted config overrides the flags stand for; contradictory flags raise :class:`UsageError`."""
    overrides: dict[str, Any] = {}
    if args.source:
        overrides["mydumper.data-source-dir"] = args.source
    tidb_flags = {
        "host": args.tidb_host,
        "port": args.tidb_port,
        "user": args.tidb_user,
        "password": args.tidb_password,
    }
    if args.target:
        from_url = target_overrides(args.target)
        url_parts = _parse_target(args.target)
        in_url = {
            "host": True,
            "port": url_parts.port is not None,
            "user": url_parts.user is not None,
            "password": url_parts.password is not None,
        }
        clashes = [f"--tidb-{key}" for key, value in tidb_flags.items() if value is not None and in_url[key]]
        if clashes:
            raise UsageError(
                f"--target already gives the {', '.join(c[len('--tidb-'):] for c in clashes)}; "
                f"drop {' and '.join(clashes)}, or give the target with --tidb-* flags only"
            )
        overrides.update(from_url)
    for key, value in tidb_flags.items():
        if value is not None:
            overrides[f"tidb.{key}"] = value
    if getattr(args, "filter", None):
        overrides["mydumper.filter"] = list(args.filter)
    if getattr(args, "backend", None):
        overrides["tikv-importer.backend"] = args.backend
    if getattr(args, "sorted_kv_dir", None):
        overrides["tikv-importer.sorted-kv-dir"] = args.sorted_kv_dir
    if getattr(args, "check_requirements", None) is not None:
        overrides["lightning.check-requirements"] = args.check_requirements
    if args.no_schema:
        overrides["mydumper.no-schema"] = True
    for name in ("checksum", "analyze"):
        level = getattr(args, name, None)
        if level is not None:
            overrides[f"post-restore.{name}"] = {"true": True, "false": False}.get(level, level)
    enable = getattr(args, "enable_checkpoint", None)
    if enable is not None:
        if not enable and args.checkpoint_file:
            raise UsageError("--checkpoint-file and --enable-checkpoint=false contradict each other; drop one")
        overrides["checkpoint.enable"] = enable
    if args.checkpoint_file:
        overrides["checkpoint.driver"] = "file"
        overrides["checkpoint.dsn"] = str(Path(args.checkpoint_file).expanduser().absolute())
    return overrides


def load_cli_config(args: argparse.Namespace, *, need_source: bool = True) -> Any:
    """The configuration: ``-c`` file (if any), then the flags' overrides."""
    from airflow_provider_lightning.core.config import BackendKind, load_config

    overrides = config_overrides(args)
    if need_source and not args.config and not args.source:
        raise UsageError("nothing to import: give -c tidb-lightning.toml, or --source DIR and --target URL")
    try:
        config = load_config(args.config, overrides=overrides)
    except ConfigError as exc:
        # ctl finds checkpoints without the source when they are named otherwise (--checkpoint-file, mysql).
        if need_source or args.source or exc.key != "mydumper.data-source-dir":
            raise
        config = load_config(args.config, overrides={**overrides, "mydumper.data-source-dir": _NO_SOURCE})
    if getattr(args, "sorted_kv_dir", None) and config.tikv_importer.backend is BackendKind.TIDB:
        raise UsageError(
            "--sorted-kv-dir is for the physical backend (--backend local); the logical backend (tidb) keeps "
            "nothing on local disk"
        )
    return config


def open_store_for(config: Config) -> Any:
    """The checkpoint store the config asks for (by default a JSON file per source and target, in
    ``$XDG_STATE_HOME/airflow-provider-lightning/checkpoints``)."""
    from airflow_provider_lightning.core.checkpoints.drivers import open_checkpoint_store
    from airflow_provider_lightning.core.checkpoints.store import MemoryCheckpointStore
    from airflow_provider_lightning.core.importer.env import connection_settings
    from airflow_provider_lightning.core.importer.steps import default_checkpoint_file
    from airflow_provider_lightning.core.storage import open_storage

    if not config.checkpoint.enable:
        return MemoryCheckpointStore()
    settings = connection_settings(config)
    source = config.mydumper.data_source_dir
    needs_default = config.checkpoint.driver == "file" and not config.checkpoint.dsn.strip()
    if needs_default and source == _NO_SOURCE:
        raise UsageError(
            "which checkpoints? give --checkpoint-file, or -c tidb-lightning.toml, or the --source and --target "
            "of the import (its checkpoint file is found from them)"
        )
    default = default_checkpoint_file(open_storage(source).url, settings) if needs_default else Path()
    return open_checkpoint_store(
        config.checkpoint.driver, config.checkpoint.dsn, schema=config.checkpoint.schema, target=settings,
        default_file=default,
    )


# --- the parser -----------------------------------------------------------------------------------------


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("source, target and checkpoints (override the config file)")
    where.add_argument("-c", "--config", metavar="FILE", help="a tidb-lightning.toml")
    where.add_argument(
        "-d", "--source", metavar="DIR",
        help="the data source: a directory or s3://bucket/prefix (mydumper.data-source-dir)",
    )
    where.add_argument(
        "--target", metavar="URL",
        help="the target server: mysql://USER[:PASSWORD]@HOST[:PORT] (password as written or percent-encoded), "
        "port 3306 by default",
    )
    where.add_argument("--tidb-host", metavar="HOST", help="target host (tidb.host)")
    where.add_argument("--tidb-port", metavar="PORT", type=_parse_port, help="target port (tidb.port)")
    where.add_argument("--tidb-user", metavar="USER", help="target user (tidb.user)")
    where.add_argument(
        "--tidb-password", metavar="PASSWORD",
        help="target password (tidb.password); visible to other local users in the process list, so prefer "
        "the config file",
    )
    where.add_argument(
        "--checkpoint-file", metavar="FILE", help="keep checkpoints in this JSON file (checkpoint.driver = file)"
    )
    where.add_argument("--no-schema", action="store_true", help="the target tables exist already (mydumper.no-schema)")
    out = common.add_argument_group("output")
    out.add_argument(
        "-L", "--log-level", choices=("debug", "info", "warn", "warning", "error"), default=None, metavar="LEVEL",
        help="debug, info (the default), warn or error",
    )
    out.add_argument(
        "--log-file", metavar="FILE",
        help="write the log to this file; the terminal then shows only warnings, errors and progress",
    )
    out.add_argument("--debug", action="store_true", help="debug logs and tracebacks (the password stays hidden)")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightning",
        description="Bulk-import mydumper/Dumpling dumps into MySQL-compatible databases, the way TiDB Lightning does.",
        epilog="Exit codes: 0 done, 1 failed, 2 bad command line or configuration, 130 interrupted.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{import,ctl}")
    common = _common_options()

    imp = sub.add_parser(
        "import", parents=[common], help="run a whole import: schema, data, checksum",
        description="Run a whole import: create the schema, import the rows, verify them by checksum.",
        epilog="Exit codes: 0 done, 1 failed, 2 bad command line or configuration, 130 interrupted.",
    )
    what = imp.add_argument_group("what and how to import (override the config file)")
    what.add_argument(
        "-f", "--filter", action="append", metavar="RULE",
        help="a table filter rule such as 'db.*' or '!db.tmp_*'; repeatable (mydumper.filter)",
    )
    what.add_argument(
        "--backend", choices=("tidb", "logical", "local", "physical"),
        help="tidb (= logical: SQL statements, any MySQL-compatible server) or local (= physical; needs TiKV)",
    )
    what.add_argument("--sorted-kv-dir", metavar="DIR", help="local sort folder of the physical backend")
    what.add_argument(
        "--check-requirements", metavar="BOOL", nargs="?", const=True, type=_parse_bool,
        help="run the prechecks (default true); --check-requirements false skips them",
    )
    what.add_argument(
        "--enable-checkpoint", metavar="BOOL", nargs="?", const=True, type=_parse_bool,
        help="keep checkpoints so a failed run resumes (default true)",
    )
    what.add_argument(
        "--checksum", choices=("required", "optional", "off", "true", "false"), help="post-restore.checksum"
    )
    what.add_argument(
        "--analyze", choices=("required", "optional", "off", "true", "false"), help="post-restore.analyze"
    )
    show = imp.add_argument_group("progress display")
    show.add_argument("--no-progress", action="store_true", help="no live display on a terminal: plain lines")
    show.add_argument(
        "--progress-interval", metavar="SECONDS", type=_parse_interval,
        help=f"how often progress is shown (default {LIVE_INTERVAL:g}s live, {PLAIN_INTERVAL:g}s as plain lines)",
    )

    ctl = sub.add_parser(
        "ctl", parents=[common], help="inspect and repair checkpoints (tidb-lightning-ctl)",
        description="Inspect and repair the checkpoints of an import. Give it the same -c / --source / --target "
        "/ --checkpoint-file as the import, so it finds the same checkpoints.",
        epilog=(
            "After a table failed: checkpoint-error-ignore keeps its rows and lets the next run continue where it "
            "stopped (fix the cause first); checkpoint-error-destroy drops the table so the next run imports it "
            "from scratch. checkpoint-remove forgets checkpoints and leaves the target table as it is. "
            "Exit codes: 0 done, 1 failed, 2 bad command line or configuration."
        ),
    )
    from airflow_provider_lightning.core.ctl import ACTIONS

    ctl.add_argument("action", nargs="?", choices=ACTIONS, metavar="ACTION", help=", ".join(ACTIONS))
    ctl.add_argument("table", nargs="?", help="`db`.`table`, db.table, or all")
    ctl.add_argument("--output", metavar="DIR", help="checkpoint-dump: write tables.csv, engines.csv, chunks.csv here")
    lightning_style = ctl.add_argument_group("tidb-lightning-ctl's flags (the same actions)")
    lightning_style.add_argument("--checkpoint-dump", metavar="DIR", help="= checkpoint-dump --output DIR")
    for action in ACTIONS[1:]:
        lightning_style.add_argument(f"--{action}", metavar="TABLE", help=f"= {action} TABLE")
    airflow = ctl.add_argument_group(
        "an import run by Airflow (its checkpoints are in the Task State Store of a DAG run, reached through "
        "Airflow's REST API)"
    )
    airflow.add_argument("--airflow-api", metavar="URL", help="the Airflow API server, e.g. http://localhost:8080")
    airflow.add_argument("--airflow-user", metavar="USER", help="an Airflow API user")
    airflow.add_argument("--airflow-password", metavar="PASSWORD", help="its password")
    airflow.add_argument("--dag-id", metavar="DAG_ID", help="the DAG of the import")
    airflow.add_argument("--run-id", metavar="RUN_ID", help="the DAG run")
    airflow.add_argument(
        "--task-group", metavar="GROUP", default="import", help="the lightning_import TaskGroup's id (default: import)"
    )
    return parser


def _ctl_request(args: argparse.Namespace) -> tuple[str, str | None, Path | None]:
    """(action, table, output) from either form; more than one action, or a missing one, is a usage error."""
    from airflow_provider_lightning.core.ctl import ACTIONS, DUMP

    requests: list[tuple[str, str | None, str | None]] = []
    if args.action:
        requests.append((args.action, args.table, args.output))
    elif args.table:
        raise UsageError(f"{args.table!r} is not an action; one of {', '.join(ACTIONS)}")
    if args.checkpoint_dump:
        requests.append((DUMP, None, args.checkpoint_dump))
    for action in ACTIONS[1:]:
        value = getattr(args, action.replace("-", "_"))
        if value:
            requests.append((action, value, None))
    if not requests:
        raise UsageError(f"no action: give one of {', '.join(ACTIONS)}")
    if len(requests) > 1:
        raise UsageError(f"give one action at a time, not {' and '.join(r[0] for r in requests)}")
    action, table, output = requests[0]
    if action == DUMP and table:
        raise UsageError(f"{DUMP} takes no table (it lists them all); to write CSV files use --output DIR")
    if action != DUMP and args.output:
        raise UsageError(f"--output is for {DUMP} only")
    if action != DUMP and not table:
        raise UsageError(f"{action} needs a table: `db`.`table`, db.table, or all")
    return action, table, Path(output) if output else None


# --- output: redaction, the console, logging --------------------------------------------------------------


class Redactor:
    """A last line of defence against printing a secret: hides the password in any ``scheme://user:password@``
    text, and the given secrets where they are distinctive enough to be replaced safely.

    The password is kept out of messages where they are made (the config dump, the ``--target`` URL, the
    checkpoint DSN); this catches what someone else's message might still carry.
    """

    _URL_PASSWORD = re.compile(r"(\w://[^:/@\s]*):([^@\s]+)@")
    # Shorter or purely alphanumeric secrets could be ordinary words of the output ("lightning").
    _MIN_LENGTH = 8

    def __init__(self) -> None:
        self._secrets: list[str] = []

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < self._MIN_LENGTH or secret.isalnum():
            return
        for form in {secret, quote(secret, safe=""), repr(secret)[1:-1]}:
            if form not in self._secrets:
                self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "******")
        return self._URL_PASSWORD.sub(r"\1:******@", text)


class _RedactingFormatter(logging.Formatter):
    def __init__(self, redact: Redactor, fmt: str) -> None:
        super().__init__(fmt)
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        # Names from the dump are escaped where they are shown; this is the net under every log line.
        return printable(self._redact(super().format(record)), keep_newlines=True)


class Console:
    """The terminal (or pipe) the live display and the log lines share, drawn by rich.

    With ``live``, the display is a :class:`rich.live.Live` block at the bottom, redrawn in place; a log
    line is printed above it, so neither garbles the other. Everything shown goes through
    :func:`~airflow_provider_lightning.core.errors.printable` first (rich strips only a few control
    characters) and reaches rich as :class:`~rich.text.Text`, so ``[...]`` in a name is never read as markup.
    """

    def __init__(self, stream: TextIO, *, live: bool, redact: Redactor) -> None:
        self.live = live
        self._redact = redact
        self._lock = threading.Lock()
        self._rich = RichConsole(file=stream, highlight=False, markup=False, emoji=False)
        self._display: Live | None = None

    def write_above(self, text: str) -> None:
        line = Text(printable(self._redact(text), keep_newlines=True))
        with self._lock:
            # soft_wrap: the terminal folds a long line; a pipe or a file gets it whole.
            self._rich.print(line, soft_wrap=True)

    def draw(self, frame: RenderableType) -> None:
        with self._lock:
            if self._display is None:
                self._display = Live(frame, console=self._rich, auto_refresh=False)
                self._display.start(refresh=True)
            else:
                self._display.update(frame, refresh=True)

    def release(self) -> None:
        """Leave the last frame on screen; what is written next goes below it."""
        with self._lock:
            if self._display is not None:
                self._display.stop()
                self._display = None

    def height(self) -> int:
        """The terminal's height in lines."""
        return self._rich.size.height


class _ConsoleHandler(logging.Handler):
    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.write_above(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break the import
            self.handleError(record)


_LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def _configure_logging(args: argparse.Namespace, console: Console, redact: Redactor) -> list[logging.Handler]:
    level_name = "debug" if args.debug else (args.log_level or "info")
    level = {"warn": logging.WARNING}.get(level_name, getattr(logging, level_name.upper()))
    handlers: list[logging.Handler] = []
    on_console = _ConsoleHandler(console)
    on_console.setFormatter(_RedactingFormatter(redact, _LOG_FORMAT))
    if args.log_file:
        to_file = logging.FileHandler(args.log_file, encoding="utf-8")
        to_file.setFormatter(_RedactingFormatter(redact, _LOG_FORMAT))
        handlers.append(to_file)
        on_console.setLevel(logging.WARNING)
    handlers.append(on_console)
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    # Other libraries (boto3, pymysql) keep to warnings: their debug output is noise here.
    root.setLevel(logging.WARNING)
    logging.getLogger(PACKAGE_LOGGER).setLevel(level)
    return handlers


# --- progress ---------------------------------------------------------------------------------------------


class ProgressReporter:
    """Shows an import's progress every ``interval`` seconds from a background thread: a live frame on a
    terminal, ``progress`` log lines otherwise; and the final state when stopped."""

    def __init__(self, progress: Any, console: Console, *, interval: float) -> None:
        self.progress = progress
        self.console = console
        self.interval = interval
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.show(final=True)
        self.console.release()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.show()

    def show(self, *, final: bool = False) -> None:
        elapsed = time.monotonic() - self._started
        snapshot = self.progress.snapshot()
        if self.console.live:
            # A frame taller than the screen could not be redrawn in place.
            room = self.console.height() - 2
            frame = progress_table(snapshot, elapsed, final=final, bar=True, max_lines=room)
            if frame is not None:
                self.console.draw(frame)
            return
        # Log lines: the running tables as they go, every table at the end.
        for line in progress_lines(snapshot, elapsed, final=final, only_running=not final):
            log.info("progress %s", line)


def progress_table(
    snapshot: Sequence[Any],
    elapsed: float,
    *,
    final: bool = False,
    bar: bool = False,
    only_running: bool = False,
    max_lines: int = 0,
) -> Table | None:
    """One row per table and a total row: [a bar,] bytes done / total, percent, rows, rows/s, then the ETA
    (or ``done`` / ``stopped``); None for an empty snapshot.

    ``only_running`` leaves finished tables out (the total still counts them); ``max_lines`` (0: no limit)
    keeps the table that short by folding the finished tables, then the last running ones, into one row.
    """
    from airflow_provider_lightning.core.importer.progress import format_bytes, format_duration

    if not snapshot:
        return None
    finished = [t for t in snapshot if t.finished]
    shown = [t for t in snapshot if not (only_running and t.finished)]
    folded = ""
    if max_lines and len(shown) + 1 > max_lines:
        running = [t for t in shown if not t.finished]
        room = max(0, max_lines - 2)  # the total and the folded row
        shown, hidden = running[:room], len(snapshot) - min(room, len(running))
        folded = f"… {hidden} more tables ({len(finished)} done)"

    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, overflow="ellipsis")
    if bar:
        table.add_column(no_wrap=True, width=_BAR_WIDTH)
    for _ in range(4):
        table.add_column(justify="right", no_wrap=True)
    table.add_column(no_wrap=True)

    def add(name: str, done: int, total: int, fraction: float, rows: int, rate: float, state: str) -> None:
        meter = [ProgressBar(total=1.0, completed=fraction, width=_BAR_WIDTH)] if bar else []
        table.add_row(
            Text(printable(name)), *meter, f"{format_bytes(done)} / {format_bytes(total)}",
            f"{fraction * 100:5.1f}%", f"{rows:,} rows", f"{rate:,.0f} rows/s", state,
        )

    for t in shown:
        state = "done" if t.finished else ("stopped" if final else f"ETA {format_duration(t.eta_seconds)}")
        add(t.table, t.bytes_done, t.bytes_total, t.fraction, t.rows, t.rows_per_second, state)
    if folded:
        table.add_row(Text(folded))
    done = sum(t.bytes_done for t in snapshot)
    total = sum(t.bytes_total for t in snapshot)
    rate = sum(t.rows_this_run for t in snapshot) / elapsed if elapsed > 0 else 0.0
    add(
        f"total ({len(finished)}/{len(snapshot)} tables done)", done, total, done / total if total else 1.0,
        sum(t.rows for t in snapshot), rate, f"{'took' if final else 'elapsed'} {format_duration(elapsed)}",
    )
    return table


def progress_lines(snapshot: Sequence[Any], elapsed: float, **options: Any) -> list[str]:
    """:func:`progress_table` (with the same ``options``) as plain text lines, for the log when the output is
    not a terminal."""
    frame = progress_table(snapshot, elapsed, **options)
    return [] if frame is None else plain_text(frame).splitlines()


def plain_text(renderable: RenderableType) -> str:
    """What rich draws for ``renderable`` with no colours, no control codes and no width limit; every line
    without its trailing padding."""
    out = io.StringIO()
    RichConsole(
        file=out, width=_PLAIN_WIDTH, color_system=None, force_terminal=False, force_jupyter=False,
        highlight=False, markup=False, emoji=False,
    ).print(renderable)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()).rstrip("\n")


# --- import -----------------------------------------------------------------------------------------------


def render_summary(summary: Any, elapsed: float | None = None) -> str:
    """The end of an import: a table (table, rows, bytes, seconds, checksum), notes on skipped checksums,
    the error-table counts with the queries that show their rows, and what happened to the checkpoints."""
    from airflow_provider_lightning.core.importer.progress import format_bytes

    checks = {p.table: p.checksum for p in summary.post}
    notes = []
    total_rows = sum(t.rows for t in summary.tables)
    total_bytes = sum(t.bytes for t in summary.tables)
    table = Table(box=_SUMMARY_BOX, show_edge=False, pad_edge=False, show_footer=True)
    for header, justify, footer in (
        ("table", "left", "total"),
        ("rows", "right", f"{total_rows:,}"),
        ("bytes", "right", format_bytes(total_bytes)),
        ("seconds", "right", f"{elapsed:.1f}" if elapsed is not None else ""),
        ("checksum", "left", ""),
        ("rows not imported", "left", ""),
    ):
        table.add_column(header, justify=justify, footer=footer, no_wrap=True)  # type: ignore[arg-type]
    for t in summary.tables:
        check = checks.get(t.table, "-")
        if check.startswith("skipped"):
            reason = check.partition(":")[2].strip()
            if reason:
                notes.append(f"checksum skipped for {printable(t.table)}: {reason}")
            check = "skipped"
        errors = summary.errors.get(t.table, {})
        table.add_row(
            Text(printable(t.table)), f"{t.rows:,}", format_bytes(t.bytes), f"{t.seconds:.1f}", Text(check),
            ", ".join(f"{n:,} {kind}" for kind, n in sorted(errors.items())) or "-",
        )
    lines = plain_text(table).splitlines()
    lines.append("")
    lines.extend(notes)
    took = f" in {elapsed:.1f}s" if elapsed is not None else ""
    lines.append(f"{len(summary.tables)} tables, {total_rows:,} rows imported{took}.")
    if summary.errors:
        lines.append("Rows that were not imported are in the error tables; see them with:")
        lines.extend("  " + query + ";" for query in summary.error_queries)
    if summary.cleaned:
        lines.append("Checkpoints: " + summary.cleaned + ".")
    return "\n".join(lines)


def _failure_lines(store: Any, message: str = "") -> list[str]:
    """After a failed import: which tables are marked failed and what to do, or where progress is kept."""
    from airflow_provider_lightning.core.checkpoints.model import describe_status, is_error_status
    from airflow_provider_lightning.core.checkpoints.store import MemoryCheckpointStore
    from airflow_provider_lightning.core.ctl import ERROR_DESTROY, ERROR_IGNORE

    if isinstance(store, MemoryCheckpointStore):
        return ["Checkpoints are off ([checkpoint] enable = false): a new run starts over."]
    try:
        if store.get_task() is None:
            return []
        failed = []
        for name in store.table_names():
            table = store.get_table(name)
            if table is not None and (
                is_error_status(table.status) or any(is_error_status(e.status) for e in table.engines)
            ):
                failed.append((name, describe_status(table.status)))
    except LightningError as exc:
        return [f"(the checkpoints could not be read: {exc})"]
    if not failed:
        return [f"Progress is kept in {store.description}: run the same command again to resume."]
    lines = [f"Progress is kept in {store.description}. Marked as failed:"]
    lines.extend(f"  {name}: {status}" for name, status in failed)
    same_options = (
        "(give `lightning ctl` the same -c / --source / --target / --checkpoint-file options as this command)"
    )
    if ERROR_IGNORE in message:  # the message already says what to run
        return [*lines, same_options]
    target = "all" if len(failed) > 1 else failed[0][0]
    return [
        *lines,
        f"A run refuses a failed table until you choose {same_options}:",
        (
            f"  lightning ctl {ERROR_IGNORE} {shlex.quote(target)}    keep the rows imported so far and continue where it "
            "stopped (once the cause is fixed)"
        ),
        f"  lightning ctl {ERROR_DESTROY} {shlex.quote(target)}   drop the table and import it from scratch",
    ]


def _run_in_thread(work: Callable[[], Any]) -> Any:
    """Run ``work`` on a thread while the main thread stays free to take Ctrl-C at once."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed back to the main thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="import", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.2)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


class _Interrupted(Exception):
    """Ctrl-C during an import."""


class _ImportFailed(Exception):
    """An import failed with ``cause``; ``notes`` say what the checkpoints hold and what to do next."""

    def __init__(self, cause: BaseException, notes: list[str]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.notes = notes


def _run_import(args: argparse.Namespace, console: Console, redact: Redactor) -> int:
    from airflow_provider_lightning.core.importer.progress import ImportProgress
    from airflow_provider_lightning.core.importer.steps import run_import

    config = load_cli_config(args)
    redact.add(config.tidb.password)
    log.debug("configuration: %s", json.dumps(config.to_dict(redact=True), sort_keys=True))
    store = open_store_for(config)
    progress = ImportProgress()
    interval = args.progress_interval or (LIVE_INTERVAL if console.live else PLAIN_INTERVAL)
    reporter = ProgressReporter(progress, console, interval=interval)
    started = time.monotonic()
    reporter.start()
    try:
        try:
            summary = _run_in_thread(lambda: run_import(config, store, progress=progress))
        except KeyboardInterrupt:
            reporter.stop()
            if not config.checkpoint.enable:
                raise _Interrupted("interrupted; checkpoints are off, so a new run starts over") from None
            raise _Interrupted(
                f"interrupted; every committed row is accounted for in {store.description} and the target: run "
                "the same command again to resume"
            ) from None
        except Exception as exc:
            reporter.stop()
            raise _ImportFailed(exc, _failure_lines(store, str(exc))) from exc
        reporter.stop()
    finally:
        store.close()
    shown = redact(render_summary(summary, time.monotonic() - started))
    print(printable(shown, keep_newlines=True), flush=True)
    return EXIT_OK


# --- ctl --------------------------------------------------------------------------------------------------


def _run_ctl(args: argparse.Namespace, redact: Redactor) -> int:
    from airflow_provider_lightning.core.ctl import ctl_target_from_config, run_ctl

    action, table, output = _ctl_request(args)
    config = load_cli_config(args, need_source=False)
    redact.add(config.tidb.password)
    log.debug("configuration: %s", json.dumps(config.to_dict(redact=True), sort_keys=True))
    client = None
    if args.airflow_api:
        if not (args.dag_id and args.run_id):
            raise UsageError("--airflow-api needs --dag-id and --run-id: the DAG run whose checkpoints to use")
        redact.add(args.airflow_password)
        # The Airflow store speaks the public REST API (no Airflow import): see core/airflow_api/run_store.py.
        from airflow_provider_lightning.core.airflow_api.run_store import airflow_ctl_store  # noqa: PLC0415

        store, client = airflow_ctl_store(
            args.airflow_api, args.dag_id, args.run_id, group_id=args.task_group,
            username=args.airflow_user, password=args.airflow_password,
        )
    else:
        store = open_store_for(config)
    try:
        target = ctl_target_from_config(config)
        if client is not None:
            # An Airflow run imports the table again when its import_table task is Cleared, which does not
            # run restore_schema: error-destroy must empty the table, not drop it.
            target = dataclasses.replace(target, keep_table_definitions=True)
        result = run_ctl(action, store, table, target=target, output=output)
    finally:
        store.close()
        if client is not None:
            client.close()
    print(printable(redact(result.text), keep_newlines=True), flush=True)
    return EXIT_OK


# --- main -------------------------------------------------------------------------------------------------


def _target_password(url: str) -> str:
    """The password in ``--target``, to keep it out of every message ("" when the URL cannot be read:
    then no message repeats the URL)."""
    try:
        return parse_mysql_url(url).password or ""
    except MySQLURLError:
        return ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    subparser = parser._subparsers._group_actions[0].choices[args.command]  # its usage line
    if unknown:
        subparser.error(f"unrecognized arguments: {' '.join(unknown)}")
    redact = Redactor()
    redact.add(args.tidb_password)
    if args.target:
        redact.add(_target_password(args.target))
    live = args.command == "import" and not args.no_progress and sys.stderr.isatty()
    console = Console(sys.stderr, live=live, redact=redact)
    handlers = _configure_logging(args, console, redact)

    def fail(message: str) -> None:
        console.write_above(redact(message))

    try:
        if args.command == "import":
            return _run_import(args, console, redact)
        return _run_ctl(args, redact)
    except UsageError as exc:
        fail(subparser.format_usage().rstrip() + f"\nlightning {args.command}: error: {exc}")
        return EXIT_USAGE
    except _Interrupted as exc:
        fail(f"lightning: {exc}")
        sys.stderr.flush()
        sys.stdout.flush()
        # Threads may still be writing; every commit is exact whenever it stops, so stop at once.
        os._exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        fail("lightning: interrupted")
        return EXIT_INTERRUPTED
    except _ImportFailed as exc:
        code = _report(args, exc.cause, fail, notes=exc.notes)
        return code
    except Exception as exc:  # noqa: BLE001 - reported in a few lines, the traceback only with --debug
        return _report(args, exc, fail)
    finally:
        for handler in handlers:
            logging.getLogger().removeHandler(handler)
            handler.close()


def _report(
    args: argparse.Namespace, exc: BaseException, write: Callable[[str], None], *, notes: Sequence[str] = ()
) -> int:
    """Print why the command failed (and the traceback with ``--debug``); return the exit code."""
    if args.debug:
        write("".join(traceback.format_exception(exc)).rstrip())
    if isinstance(exc, UsageError):
        message, code = f"lightning {args.command}: error: {exc}", EXIT_USAGE
    elif isinstance(exc, ConfigError):
        message, code = f"lightning: {exc}", EXIT_USAGE
    elif isinstance(exc, LightningError):
        message, code = f"lightning: {args.command} failed: {exc}", EXIT_FAILED
    else:  # a bug of ours, or an error nobody turned into a readable one
        message = f"lightning: {args.command} failed: unexpected error: {type(exc).__name__}: {exc}"
        if not args.debug:
            message += " (run with --debug for the traceback)"
        code = EXIT_FAILED
    write("\n".join([message, *notes]))
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = [
    "Console",
    "ProgressReporter",
    "Redactor",
    "build_parser",
    "config_overrides",
    "load_cli_config",
    "main",
    "open_store_for",
    "plain_text",
    "progress_lines",
    "progress_table",
    "redact_url",
    "render_summary",
    "target_overrides",
]
