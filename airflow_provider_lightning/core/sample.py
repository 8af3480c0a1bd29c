"""A generator of sample dumps in mydumper's layout, for the demo, the benchmarks and tests.

The files look exactly like what mydumper 0.10 writes (``SET NAMES binary`` header, multi-row ``INSERT``
statements of about ``statement_size`` bytes, strings in double quotes with backslash escapes, raw bytes
in BLOBs), or like Lightning-style CSV. Content is deterministic for a given seed, so a benchmark or a
test can be repeated exactly.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

_HEADER = b"/*!40101 SET NAMES binary*/;\n/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n/*!40103 SET TIME_ZONE='+00:00' */;\n"
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")
_TRICKY = ("O'Reilly", 'say "hi"', "back\\slash", "line\nbreak", "tab\there", "emoji 😀", "ünïcødé", "")


@dataclass(frozen=True, slots=True)
class SampleTable:
    schema: str
    name: str
    create: str
    make_row: Callable[[random.Random, int], tuple]


def _sql_value(value: object) -> bytes:
    if value is None:
        return b"NULL"
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, (int, float)):
        return str(value).encode()
    data = value.encode() if isinstance(value, str) else bytes(value)
    data = (
        data.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"'", b"\\'").replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r").replace(b"\x00", b"\\0").replace(b"\x1a", b"\\Z")
    )
    return b'"' + data + b'"'


def _csv_value(value: object) -> bytes:
    if value is None:
        return b"\\N"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value).encode()
    data = value.encode() if isinstance(value, str) else bytes(value)
    data = (
        data.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n").replace(b"\r", b"\\r")
        .replace(b"\x00", b"\\0")
    )
    return b'"' + data + b'"'


def _customers(rng: random.Random, i: int) -> tuple:
    name = f"{rng.choice(_WORDS).title()} {rng.choice(_TRICKY)} {i}"
    return (
        i,
        name,
        f"user{i}@example.com",
        f"{rng.randint(-10**6, 10**8) / 100:.2f}",
        f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
        None if i % 7 == 0 else " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 12))),
    )


def _orders(rng: random.Random, i: int) -> tuple:
    return (
        i,
        rng.randint(1, 1000),
        f"{rng.randint(0, 10**7) / 100:.2f}",
        rng.choice(("new", "paid", "shipped")),
        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
    )


def _events(rng: random.Random, i: int) -> tuple:
    return (
        f"2025-01-{rng.randint(1, 28):02d} 12:00:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}",
        rng.choice(("click", "view", "buy", None)),
        bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40))),
    )


def _sbtest(rng: random.Random, i: int) -> tuple:
    c = "-".join(f"{rng.randint(0, 10**11 - 1):011d}" for _ in range(10))
    pad = "-".join(f"{rng.randint(0, 10**11 - 1):011d}" for _ in range(5))
    return (i, rng.randint(1, 10**6), c, pad)


SHOP_TABLES = (
    SampleTable(
        "shop",
        "customers",
        "CREATE TABLE `customers` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `name` varchar(100) NOT NULL,\n"
        "  `email` varchar(200) DEFAULT NULL,\n  `balance` decimal(12,2) NOT NULL DEFAULT 0.00,\n"
        "  `created_at` datetime NOT NULL,\n  `note` text DEFAULT NULL,\n  PRIMARY KEY (`id`),\n"
        "  UNIQUE KEY `email` (`email`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        _customers,
    ),
    SampleTable(
        "shop",
        "orders",
        "CREATE TABLE `orders` (\n  `id` bigint(20) NOT NULL,\n  `customer_id` int(11) NOT NULL,\n"
        "  `total` decimal(12,2) NOT NULL,\n  `status` enum('new','paid','shipped') NOT NULL,\n"
        "  `placed_at` timestamp NULL DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  KEY `customer_id` (`customer_id`)\n"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        _orders,
    ),
    SampleTable(
        "shop",
        "events",
        "CREATE TABLE `events` (\n  `ts` datetime(3) NOT NULL,\n  `kind` varchar(20) DEFAULT NULL,\n"
        "  `payload` blob DEFAULT NULL\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        _events,
    ),
)

SBTEST = SampleTable(
    "bench",
    "sbtest",
    "CREATE TABLE `sbtest` (\n  `id` int(11) NOT NULL,\n  `k` int(11) NOT NULL DEFAULT 0,\n"
    "  `c` char(120) NOT NULL DEFAULT '',\n  `pad` char(60) NOT NULL DEFAULT '',\n  PRIMARY KEY (`id`),\n"
    "  KEY `k_1` (`k`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
    _sbtest,
)

_SHOP_VIEW = (
    b"/*!40101 SET NAMES binary*/;\nDROP TABLE IF EXISTS `paid_orders`;\nDROP VIEW IF EXISTS `paid_orders`;\n"
    b"CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `paid_orders` AS "
    b"select `orders`.`id` AS `id`,`orders`.`total` AS `total` from `orders` where `orders`.`status` = 'paid';\n"
)


def _rows(table: SampleTable, count: int, seed: int, start: int = 1) -> Iterator[tuple]:
    rng = random.Random(f"{seed}:{table.name}")
    for i in range(start, start + count):
        yield table.make_row(rng, i)


def write_table(
    out: Path,
    table: SampleTable,
    rows: int,
    *,
    seed: int = 1,
    files: int = 1,
    fmt: str = "sql",
    compress: str | None = None,
    statement_size: int = 1_000_000,
) -> list[Path]:
    """Write ``table``'s schema file and ``rows`` rows spread over ``files`` data files."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{table.schema}.{table.name}-schema.sql").write_bytes(
        _HEADER + b"\n" + table.create.encode() + b";\n"
    )
    written = []
    per_file = max(1, -(-rows // files)) if rows else 0
    row_iter = _rows(table, rows, seed)
    for n in range(files):
        count = min(per_file, rows - n * per_file)
        if count <= 0 and n > 0:
            break
        suffix = f".{n + 1:05d}" if files > 1 else ""
        name = f"{table.schema}.{table.name}{suffix}.{fmt}"
        chunk = [next(row_iter) for _ in range(max(0, count))]
        data = _sql_file(table, chunk, statement_size) if fmt == "sql" else _csv_file(chunk)
        path = out / name
        if compress == "gz":
            path = path.with_name(path.name + ".gz")
            data = gzip.compress(data, compresslevel=1)
        path.write_bytes(data)
        written.append(path)
    return written


def _sql_file(table: SampleTable, rows: list[tuple], statement_size: int) -> bytes:
    parts = [_HEADER]
    head = f"INSERT INTO `{table.name}` VALUES\n".encode()
    statement: list[bytes] = []
    size = 0
    for row in rows:
        literal = b"(" + b",".join(_sql_value(v) for v in row) + b")"
        statement.append(literal)
        size += len(literal) + 2
        if size >= statement_size:
            parts.append(head + b",\n".join(statement) + b";\n")
            statement, size = [], 0
    if statement:
        parts.append(head + b",\n".join(statement) + b";\n")
    return b"".join(parts)


def _csv_file(rows: list[tuple]) -> bytes:
    return b"".join(b",".join(_csv_value(v) for v in row) + b"\n" for row in rows)


def write_shop_dump(
    out: Path, *, rows: int = 1000, seed: int = 1, fmt: str = "sql", database: str = "shop"
) -> Path:
    """A small mixed dump: three tables (one without a key, one over several files) and a view.

    ``database`` names the dumped database (``shop`` by default), so tests can give each dump its own.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{database}-schema-create.sql").write_bytes(
        f"CREATE DATABASE `{database}` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci */;\n".encode()
    )
    customers, orders, events = (replace(t, schema=database) for t in SHOP_TABLES)
    write_table(out, customers, rows, seed=seed, fmt=fmt)
    write_table(out, orders, rows * 3, seed=seed, files=3, fmt=fmt)
    write_table(out, events, rows * 2, seed=seed, fmt=fmt)
    (out / f"{database}.paid_orders-schema.sql").write_bytes(
        _HEADER + b"CREATE TABLE `paid_orders`(\n`id` int,\n`total` int\n)ENGINE=MyISAM;\n"
    )
    (out / f"{database}.paid_orders-schema-view.sql").write_bytes(_SHOP_VIEW)
    (out / "metadata").write_text("Started dump at: 2026-01-01 00:00:00\nFinished dump at: 2026-01-01 00:00:01\n")
    return out


def write_sbtest_dump(out: Path, *, rows: int, files: int = 1, seed: int = 1, fmt: str = "sql") -> Path:
    """A sysbench-like table (the usual bulk-load benchmark shape) in ``files`` data files."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-schema-create.sql").write_bytes(b"CREATE DATABASE `bench`;\n")
    write_table(out, SBTEST, rows, seed=seed, files=files, fmt=fmt)
    return out
