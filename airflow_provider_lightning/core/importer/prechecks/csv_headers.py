"""CSV header lines: their names against the target's columns, or a header row where none is declared."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from airflow_provider_lightning.core.config import Config
from airflow_provider_lightning.core.checkpoints.model import table_key
from airflow_provider_lightning.core.importer.prechecks.files import DATA_FORMATS, FileProbe
from airflow_provider_lightning.core.importer.prechecks.report import (
    CRITICAL,
    SHOWN,
    WARNING,
    CheckItem,
    listing,
    passed_item,
)
from airflow_provider_lightning.core.importer.prechecks.target import TargetCatalog
from airflow_provider_lightning.core.target import ColumnInfo


def check_csv_headers(
    probes: Sequence[FileProbe], catalog: TargetCatalog, config: Config, *, strict_sql_mode: bool = True
) -> list[CheckItem]:
    """CSV headers against the target's columns (``header = true``), or an undeclared header (``false``)."""
    csv = config.mydumper.csv
    if not any(DATA_FORMATS[p.file.type].csv_options for p in probes):
        return []
    if csv.header:
        if not csv.header_schema_match:
            return [
                passed_item(
                    "CSV header", "header-schema-match = false: headers are skipped, columns go in order"
                )
            ]
        return [check_header_columns(probes, catalog, strict_sql_mode=strict_sql_mode)]
    return [check_header_detection(probes, catalog)]


def check_header_columns(
    probes: Sequence[FileProbe], catalog: TargetCatalog, *, strict_sql_mode: bool = True
) -> CheckItem:
    """Every name in a CSV header is a writable column of its table; columns left out have defaults."""
    name = "CSV header"
    wrong: list[str] = []
    no_default: list[str] = []
    checked = 0
    for probe in probes:
        if probe.header is None or probe.error:
            continue
        info = catalog.info(probe.table.schema, probe.table.name)
        if info is None:
            continue
        checked += 1
        where = f"{probe.file.path} (table {table_key(info.schema, info.name)})"
        unknown = [n for n in probe.header if info.column(n) is None]
        generated = [n for n in probe.header if (c := info.column(n)) is not None and c.generated]
        if unknown:
            wrong.append(f"{where}: no column {', '.join(repr(n) for n in unknown[:5])}")
        if generated:
            wrong.append(f"{where}: {', '.join(repr(n) for n in generated[:5])} generated, cannot be written")
        named = {n.lower() for n in probe.header}
        left_out = [c.name for c in info.columns if c.name.lower() not in named and _needs_value(c)]
        if left_out:
            no_default.append(f"{where}: {', '.join(left_out[:5])}")
    if wrong:
        return CheckItem(
            name,
            CRITICAL,
            False,
            "header names that are not columns of the table:\n" + "\n".join(wrong[:SHOWN]),
            "fix the header lines or the table's schema, or set [mydumper.csv] header-schema-match = false to "
            "ignore the names and take the columns in order",
        )
    if no_default:
        text = "columns the files leave out that are NOT NULL without a default:\n" + "\n".join(
            no_default[:SHOWN]
        )
        if strict_sql_mode:
            return CheckItem(
                name,
                CRITICAL,
                False,
                text + "\nin strict sql_mode every row fails",
                "add the columns to the files, or give them a DEFAULT in the target, or write a [tidb] "
                "sql-mode without STRICT_TRANS_TABLES / STRICT_ALL_TABLES (e.g. Lightning's default "
                "'ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER'): the columns then get their type's implicit "
                "default (0, '')",
            )
        return CheckItem(
            name,
            WARNING,
            False,
            text + "\nthey get their type's implicit default (0, '')",
            "add the columns to the files, or give them a DEFAULT in the target",
        )
    return passed_item(name, f"every CSV header names columns of its table ({checked} files)")


def _needs_value(column: ColumnInfo) -> bool:
    return (
        not column.nullable and column.default is None and not column.auto_increment and not column.generated
    )


def check_header_detection(probes: Sequence[FileProbe], catalog: TargetCatalog) -> CheckItem:
    """With ``header = false``, a first row that names the table's columns is probably a header
    (Lightning's CHECK_CSV_HEADER).

    Warning; critical where Lightning is sure: two files start with the same row and it names a column of
    a unique key (the second copy would collide), or the row's values cannot be stored in the columns
    they would land in.
    """
    name = "CSV header"
    by_table: dict[str, list[FileProbe]] = defaultdict(list)
    for probe in probes:
        if probe.first_row is not None:
            by_table[table_key(probe.table.schema, probe.table.name)].append(probe)
    suspects: list[tuple[str, bool]] = []
    for key, table_probes in sorted(by_table.items()):
        rows = [p.first_row for p in table_probes if p.first_row]
        if not rows or (len(rows) >= 2 and rows[0] != rows[1]):
            continue
        info = catalog.info(table_probes[0].table.schema, table_probes[0].table.name)
        if info is None:
            continue
        values = [_header_text(v) for v in rows[0]]
        columns = {c.name.lower() for c in info.columns}
        if not values or any(v is None or v.lower() not in columns for v in values):
            continue
        unique = {c.lower() for c in info.primary_key} | {c.lower() for k in info.unique_keys for c in k}
        sure = (len(rows) >= 2 and any(v.lower() in unique for v in values)) or not all(
            _could_store(v, c) for v, c in zip(values, info.insertable_columns)
        )
        suspects.append((f"{key} ({table_probes[0].file.path})", sure))
    if not suspects:
        return passed_item(name, "header = false, and no CSV file starts with a row of column names")
    severity = CRITICAL if any(sure for _, sure in suspects) else WARNING
    return CheckItem(
        name,
        severity,
        False,
        "source CSV files seem to start with a header row, but [mydumper.csv] header = false: "
        + listing([s for s, _ in suspects]),
        "set [mydumper.csv] header = true (or remove the header lines); otherwise the header is imported as a row",
    )


def _header_text(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_NUMERIC_TYPES = {
    "tinyint",
    "smallint",
    "mediumint",
    "int",
    "integer",
    "bigint",
    "decimal",
    "numeric",
    "float",
    "double",
    "real",
    "year",
    "bit",
}
_TEMPORAL_TYPES = {"date", "datetime", "timestamp", "time"}


def _could_store(text: str, column: ColumnInfo) -> bool:
    """Whether a strict server would store ``text`` in ``column`` (roughly: the header check's sense)."""
    kind = column.data_type
    if kind in _NUMERIC_TYPES:
        return _NUMBER.fullmatch(text) is not None
    if kind in _TEMPORAL_TYPES:
        return any(ch.isdigit() for ch in text)
    if kind in ("enum", "set"):
        members = re.findall(r"'((?:[^']|'')*)'", column.column_type)
        return text.lower() in {m.replace("''", "'").lower() for m in members}
    if kind == "json":
        return False  # a column name is never a JSON document
    if column.char_max_length is not None:
        return len(text) <= column.char_max_length
    return True


def is_strict_sql_mode(sql_mode: str) -> bool:
    """Whether ``sql_mode`` makes a missing NOT NULL value an error (not its type's implicit default)."""
    modes = {m.strip().upper() for m in sql_mode.split(",")}
    return bool(modes & {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "TRADITIONAL"})
