"""The ``lightning`` command: run a whole import without Airflow.

    lightning import -c tidb-lightning.toml
    lightning import --source ./dump --target mysql://user:pass@127.0.0.1:3306

A terminal gets a live display (per table: bytes done / total, rows/s, ETA); a pipe or a log file gets
plain progress lines at a steady interval. Failures end with the reason in a few lines and a non-zero
exit code; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

from airflow_provider_lightning import __version__
from airflow_provider_lightning.core.errors import LightningError

log = logging.getLogger("airflow_provider_lightning.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def target_overrides(url: str) -> dict[str, Any]:
    """``mysql://USER[:PASS]@HOST[:PORT]`` (percent-encoded) as ``[tidb]`` overrides; port 3306 if absent."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb", "tidb") or not parts.hostname:
        raise LightningError(
            f"--target {url!r} is not a target URL; write it as mysql://USER[:PASSWORD]@HOST[:PORT]"
        )
    overrides: dict[str, Any] = {"tidb.host": parts.hostname, "tidb.port": parts.port or 3306}
    if parts.username is not None:
        overrides["tidb.user"] = unquote(parts.username)
    if parts.password is not None:
        overrides["tidb.password"] = unquote(parts.password)
    return overrides


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightning",
        description="Bulk-import mydumper/Dumpling dumps into MySQL-compatible databases (TiDB Lightning's way).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    imp = sub.add_parser("import", help="run a whole import: schema, data, checksum")
    imp.add_argument("-c", "--config", help="a tidb-lightning.toml")
    imp.add_argument("--source", "-d", help="the data source: a directory or s3://bucket/prefix (mydumper.data-source-dir)")
    imp.add_argument("--target", help="the target: mysql://USER[:PASSWORD]@HOST[:PORT] (overrides [tidb])")
    imp.add_argument("-f", "--filter", action="append", help="a table filter rule; repeatable (mydumper.filter)")
    imp.add_argument("--backend", choices=("tidb", "logical", "local", "physical"), help="tikv-importer.backend")
    imp.add_argument("--checkpoint-file", help="keep checkpoints in this JSON file ([checkpoint] driver = file)")
    imp.add_argument("--no-progress", action="store_true", help="no live progress display, only log lines")
    imp.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")

    ctl = sub.add_parser("ctl", help="inspect and repair checkpoints (tidb-lightning-ctl)")
    ctl.add_argument("action", choices=("checkpoint-dump", "checkpoint-error-ignore", "checkpoint-error-destroy", "checkpoint-remove"))
    ctl.add_argument("table", nargs="?", default="all", help="`db`.`table` or all (default)")
    ctl.add_argument("-c", "--config", help="the tidb-lightning.toml of the import")
    ctl.add_argument("--source", "-d")
    ctl.add_argument("--target")
    ctl.add_argument("--checkpoint-file")
    ctl.add_argument("--debug", action="store_true")
    return parser


def _load(args: argparse.Namespace):
    from airflow_provider_lightning.core.config import load_config  # noqa: PLC0415

    overrides: dict[str, Any] = {}
    if args.source:
        overrides["mydumper.data-source-dir"] = args.source
    if args.target:
        overrides.update(target_overrides(args.target))
    if getattr(args, "filter", None):
        overrides["mydumper.filter"] = list(args.filter)
    if getattr(args, "backend", None):
        overrides["tikv-importer.backend"] = args.backend
    if args.checkpoint_file:
        overrides["checkpoint.driver"] = "file"
        overrides["checkpoint.dsn"] = args.checkpoint_file
    if not args.config and not args.source:
        raise LightningError("nothing to import: give -c tidb-lightning.toml, or --source DIR and --target URL")
    return load_config(args.config, overrides=overrides)


def open_store_for(config: Any):
    """The checkpoint store the config asks for (a JSON file in a per-user state folder by default)."""
    from airflow_provider_lightning.core.checkpoints.store import (  # noqa: PLC0415
        MemoryCheckpointStore,
        open_checkpoint_store,
    )
    from airflow_provider_lightning.core.importer.steps import (  # noqa: PLC0415
        connection_settings,
        default_checkpoint_file,
    )
    from airflow_provider_lightning.core.storage import open_storage  # noqa: PLC0415

    if not config.checkpoint.enable:
        return MemoryCheckpointStore()
    settings = connection_settings(config)
    dsn = config.checkpoint.dsn
    default = default_checkpoint_file(open_storage(config.mydumper.data_source_dir).url, settings)
    return open_checkpoint_store(
        config.checkpoint.driver, dsn, schema=config.checkpoint.schema, target=settings, default_file=default
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "import":
            return _run_import(args)
        from airflow_provider_lightning.core.ctl import run_ctl  # noqa: PLC0415

        config = _load(args)
        print(run_ctl(config, open_store_for(config), args.action, args.table))
        return EXIT_OK
    except LightningError as exc:
        if args.debug:
            log.exception("import failed")
        print(f"\nlightning: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\nlightning: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - a bug of ours: still one readable line unless --debug
        if args.debug:
            log.exception("unexpected error")
        print(f"\nlightning: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return EXIT_FAILED


def _run_import(args: argparse.Namespace) -> int:
    from airflow_provider_lightning.core.importer.progress import ImportProgress  # noqa: PLC0415
    from airflow_provider_lightning.core.importer.steps import run_import  # noqa: PLC0415

    config = _load(args)
    store = open_store_for(config)
    progress = ImportProgress()
    live = sys.stderr.isatty() and not args.no_progress
    reporter = ProgressReporter(progress, sys.stderr, live=live, interval=0.5 if live else 10.0)
    reporter.start()
    try:
        summary = run_import(config, store, progress=progress)
    finally:
        reporter.stop()
        store.close()
    print(render_summary(summary))
    return EXIT_OK


class ProgressReporter:
    """Draws the live display, or writes progress lines, from a background thread."""

    def __init__(self, progress: Any, out: TextIO, *, live: bool, interval: float) -> None:
        self.progress = progress
        self.out = out
        self.live = live
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._drawn = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._draw(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

    def _draw(self, final: bool = False) -> None:
        from airflow_provider_lightning.core.importer.progress import format_bytes, format_duration  # noqa: PLC0415

        snapshot = self.progress.snapshot()
        if not snapshot:
            return
        lines = []
        for t in snapshot:
            state = "done" if t.finished else f"ETA {format_duration(t.eta_seconds)}"
            lines.append(
                f"{t.table}: {format_bytes(t.bytes_done)} / {format_bytes(t.bytes_total)} "
                f"({t.fraction * 100:5.1f}%), {t.rows} rows, {t.rows_per_second:,.0f} rows/s, {state}"
            )
        if self.live:
            if self._drawn:
                self.out.write(f"\x1b[{self._drawn}F\x1b[J")
            self.out.write("\n".join(lines) + "\n")
            self._drawn = len(lines)
        elif not final:
            for line in lines:
                if not line.endswith("done"):
                    self.out.write(f"progress {line}\n")
        self.out.flush()


def render_summary(summary: Any) -> str:
    """The end-of-import table: table, rows, bytes, seconds, checksum; then error-table counts and queries."""
    from airflow_provider_lightning.core.importer.progress import format_bytes  # noqa: PLC0415

    checks = {p.table: p.checksum for p in summary.post}
    header = ("table", "rows", "bytes", "seconds", "checksum")
    rows = [
        (t.table, f"{t.rows:,}", format_bytes(t.bytes), f"{t.seconds:.1f}", checks.get(t.table, "-"))
        for t in summary.tables
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i in (0, 4) else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    total_rows = sum(t.rows for t in summary.tables)
    lines.append(f"\n{len(summary.tables)} tables, {total_rows:,} rows imported.")
    if summary.errors:
        lines.append("Rows that were not imported are in the error tables:")
        for table, kinds in sorted(summary.errors.items()):
            lines.append("  " + table + ": " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        lines.extend("  " + q + ";" for q in summary.error_queries)
    if summary.cleaned:
        lines.append(summary.cleaned[0].upper() + summary.cleaned[1:] + ".")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main", "render_summary", "target_overrides", "open_store_for"]
