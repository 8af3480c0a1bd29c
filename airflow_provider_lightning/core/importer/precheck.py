"""Prechecks (Lightning's preCheckRequirements): what must hold before any row is written.

Every check that applies runs, and one readable report says for each: check, result, what to do.
Critical failures stop the import (:class:`PrecheckFailed` carries the whole report); warnings don't;
``[lightning] check-requirements = false`` skips all but the reachability check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_lightning.core.checkpoints.model import table_key
from airflow_provider_lightning.core.checkpoints.store import CheckpointStore
from airflow_provider_lightning.core.encode import qualified_name
from airflow_provider_lightning.core.errors import PrecheckFailed
from airflow_provider_lightning.core.target import fetch_table_info

if TYPE_CHECKING:
    from airflow_provider_lightning.core.importer.steps import ImportEnv

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckItem:
    name: str
    severity: str  # "critical" | "warning"
    passed: bool
    message: str


@dataclass(frozen=True, slots=True)
class PrecheckReport:
    items: tuple[CheckItem, ...]

    @property
    def failed(self) -> tuple[CheckItem, ...]:
        return tuple(i for i in self.items if not i.passed and i.severity == "critical")

    @property
    def warnings(self) -> tuple[CheckItem, ...]:
        return tuple(i for i in self.items if not i.passed and i.severity != "critical")

    def render(self) -> str:
        width = max((len(i.name) for i in self.items), default=10)
        lines = [f"{'check':<{width}}  result  details"]
        for item in self.items:
            result = "pass" if item.passed else ("FAIL" if item.severity == "critical" else "warn")
            lines.append(f"{item.name:<{width}}  {result:<6}  {item.message}")
        return "\n".join(lines)

    def to_json(self) -> list[dict[str, Any]]:
        return [{"name": i.name, "severity": i.severity, "passed": i.passed, "message": i.message} for i in self.items]


def precheck(env: ImportEnv, store: CheckpointStore | None) -> PrecheckReport:
    """Check what must hold before rows are written; raise :class:`PrecheckFailed` with the whole report."""
    config = env.config
    items: list[CheckItem] = []
    facts = env.prepared.facts
    items.append(CheckItem("target reachable", "critical", True, f"{env.settings.address}: {facts.flavor.value} {facts.version}"))
    if not config.lightning.check_requirements:
        report = PrecheckReport(tuple(items))
        log.info("prechecks skipped (lightning.check-requirements = false)")
        return report
    source = env.source
    resuming = set(store.table_names()) if store is not None else set()
    strategy = str(config.conflict.strategy)
    conn = env.connect()
    try:
        missing, non_empty, empty_source = [], [], []
        for table in source.tables:
            name = table_key(table.schema, table.name)
            info = fetch_table_info(conn, table.schema, table.name)
            if info is None:
                missing.append(name)
                continue
            if name in resuming or not table.data_files:
                continue
            with conn.cursor() as cur:
                cur.execute(f"SELECT 1 FROM {qualified_name(table.schema, table.name)} LIMIT 1")
                if cur.fetchone() is not None:
                    non_empty.append(name)
        for path in source.unmatched:
            empty_source.append(path)
    finally:
        conn.close()
    items.append(
        CheckItem(
            "every data file has a table",
            "critical",
            not missing,
            "all tables exist" if not missing else
            f"no table in the target and no schema file in the source for {', '.join(missing[:10])}"
            f"{' …' if len(missing) > 10 else ''}: add the -schema.sql files, or create the tables first",
        )
    )
    if non_empty:
        severity = "warning" if strategy in ("replace", "ignore") or config.tikv_importer.parallel_import else "critical"
        what = (
            "rows will be merged by [conflict] strategy = " + strategy
            if severity == "warning"
            else "empty them, or set [conflict] strategy = \"replace\" or \"ignore\" to merge into them"
        )
        items.append(
            CheckItem(
                "target tables empty", severity, False,
                f"{', '.join(non_empty[:10])}{' …' if len(non_empty) > 10 else ''} already hold rows; {what}",
            )
        )
    else:
        items.append(CheckItem("target tables empty", "critical", True, "all target tables are empty (or resuming)"))
    items.append(
        CheckItem(
            "unrecognised files",
            "warning",
            not empty_source,
            "every file matched a rule" if not empty_source else
            f"{len(empty_source)} files match no rule and are skipped, e.g. {empty_source[0]}",
        )
    )
    report = PrecheckReport(tuple(items))
    log.info("precheck report:\n%s", report.render())
    if report.failed:
        raise PrecheckFailed("prechecks failed:\n" + report.render())
    return report
