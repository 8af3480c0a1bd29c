"""The package's shape: an Airflow-free core, a registered provider, lazy Airflow names."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import airflow_provider_lightning
import airflow_provider_lightning.core


def _modules_loaded_by(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.splitlines()[-1])


def _core_module_names() -> list[str]:
    core = airflow_provider_lightning.core
    return [m.name for m in pkgutil.walk_packages(core.__path__, core.__name__ + ".")]


def test_core_modules_exist_to_be_checked():
    assert "airflow_provider_lightning.core.storage" in _core_module_names()


def test_importing_every_core_module_loads_no_airflow_module():
    imports = "\n".join(f"import {name}" for name in _core_module_names())
    loaded = _modules_loaded_by(imports)
    assert "airflow_provider_lightning.core.storage" in loaded
    assert [m for m in loaded if m == "airflow" or m.startswith("airflow.")] == []


def test_package_root_import_loads_no_airflow_module():
    loaded = _modules_loaded_by("import airflow_provider_lightning")
    assert [m for m in loaded if m == "airflow" or m.startswith("airflow.")] == []


def test_unknown_attribute_of_package_root_raises_attribute_error():
    try:
        airflow_provider_lightning.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_provider_info_names_the_installed_distribution():
    from importlib.metadata import distribution, entry_points

    (ep,) = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_provider_lightning")]
    info = ep.load()()
    assert info["package-name"] == distribution("airflow-provider-lightning").metadata["Name"]
    assert info["name"] and info["description"]


def test_airflow_lists_the_provider():
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    start = out.index("[")
    packages = [p["package_name"] for p in json.loads(out[start:])]
    assert "airflow-provider-lightning" in packages
