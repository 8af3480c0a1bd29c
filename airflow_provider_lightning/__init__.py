"""airflow-provider-lightning: TiDB Lightning's bulk import as Airflow tasks.

The engine lives in :mod:`airflow_provider_lightning.core` and imports nothing from Airflow. Names that
need Airflow (``lightning_import``) are loaded on first use, so importing the package stays cheap and
Airflow-free.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "lightning_import": "airflow_provider_lightning.taskgroup",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def get_provider_info() -> dict[str, Any]:
    """What ``airflow providers list`` shows; registered under the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "airflow-provider-lightning",
        "name": "Lightning",
        "description": "Bulk import of mydumper/Dumpling dumps into MySQL-compatible databases, "
        "one resumable Airflow task per import step and per table.",
        "versions": [__version__],
    }
