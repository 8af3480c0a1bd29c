"""The physical backend's local disk: room in ``sorted-kv-dir``, and whether it shares a disk with a local
source."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from airflow_provider_lightning.core.config import Config
from airflow_provider_lightning.core.importer.prechecks.report import (
    CRITICAL,
    WARNING,
    CheckItem,
    passed_item,
)
from airflow_provider_lightning.core.importer.progress import format_bytes
from airflow_provider_lightning.core.mydump.loader import DataSource
from airflow_provider_lightning.core.storage import Compression


def check_sorted_kv_dir(config: Config, source: DataSource, source_url: str) -> list[CheckItem]:
    """For the physical backend: free space in ``sorted-kv-dir`` (Lightning's CHECK_LOCAL_TEMP_KV_DIR) and
    whether it shares a disk with a local source (CHECK_LOCAL_DISK_PLACEMENT)."""
    directory = Path(config.tikv_importer.sorted_kv_dir).expanduser()
    existing = _existing_parent(directory)
    available = shutil.disk_usage(existing).free
    files = [f for t in source.tables for f in t.data_files]
    needed = sum(f.size for f in files)
    compressed = any(f.compression != Compression.NONE for f in files)
    items = [
        sorted_kv_space(
            needed,
            available,
            config.tikv_importer.disk_quota,
            compressed=compressed,
            directory=str(directory),
        )
    ]
    local_source = Path(source_url)
    if local_source.is_dir():
        same = os.stat(local_source).st_dev == os.stat(existing).st_dev
        if same:
            items.append(
                CheckItem(
                    "sorted-kv-dir placement",
                    WARNING,
                    False,
                    f"sorted-kv-dir {directory} and the data source {local_source} are on the same disk, which may "
                    "slow the import down",
                    "put sorted-kv-dir on another (fast, local) disk",
                )
            )
        else:
            items.append(
                passed_item(
                    "sorted-kv-dir placement",
                    "sorted-kv-dir and the data source are on different disks",
                    WARNING,
                )
            )
    return items


def sorted_kv_space(
    needed: int,
    available: int,
    disk_quota: int,
    *,
    compressed: bool = False,
    directory: str = "sorted-kv-dir",
) -> CheckItem:
    """Lightning's rule: enough room passes; a ``disk-quota`` above what is free fails; otherwise the import
    runs within the quota (slower). Critical, but only a warning when compressed files make ``needed``
    (the source's stored size) an underestimate."""
    name = "sorted-kv-dir space"
    severity = WARNING if compressed else CRITICAL
    if available > needed:
        return CheckItem(
            name,
            severity,
            True,
            f"{directory} has {format_bytes(available)} free for about {format_bytes(needed)} of sorted data",
        )
    if disk_quota > available:
        return CheckItem(
            name,
            severity,
            False,
            f"{directory} has {format_bytes(available)} free, but the sorted data needs about {format_bytes(needed)}",
            f"set [tikv-importer] disk-quota below {format_bytes(available)}, or point sorted-kv-dir at a disk with "
            "more room",
        )
    return CheckItem(
        name,
        severity,
        True,
        f"{directory} has {format_bytes(available)} free for about {format_bytes(needed)}: the import runs within "
        f"disk-quota ({format_bytes(disk_quota)}), which may slow it down",
    )


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
