"""``tikv-importer.backend -> backend factory``: the one table the steps look a backend up in.

``import_table`` builds its backend with :func:`open_backend` and then speaks only the
:class:`~airflow_provider_lightning.core.backend.Backend` protocol; ``prepare`` asks
:func:`require_backend` first, so an unavailable backend fails before anything is written.

Adding a backend is one module with a factory (``BackendContext -> Backend``) and one entry: in
:data:`BUILT_IN_BACKENDS` for one that ships, or :func:`register_backend` from the code that brings it
(a test, a plugin) — see ``docs/architecture.md``, "Plug-in points".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from airflow_provider_lightning.core.backend import Backend
from airflow_provider_lightning.core.backend.logical import LogicalBackend
from airflow_provider_lightning.core.backend.progress import ProgressMarkers
from airflow_provider_lightning.core.config import BackendKind
from airflow_provider_lightning.core.config import Config, ConflictStrategy
from airflow_provider_lightning.core.errormanager import ErrorManager
from airflow_provider_lightning.core.errors import LightningError
from airflow_provider_lightning.core.target import ConnectionSettings

if TYPE_CHECKING:
    import pymysql


@dataclass(frozen=True, slots=True)
class BackendContext:
    """What a backend is built from, for one table's import.

    ``session_sql`` sets up a data connection as ``prepare`` decided (sql_mode, time zone, ...);
    ``markers`` are the task-info schema's progress markers (None without one); ``fence`` raises inside a
    transaction once the table's owner lease is no longer this import's.
    """

    config: Config
    settings: ConnectionSettings
    import_id: int
    session_sql: tuple[str, ...] = ()
    errors: ErrorManager | None = None
    markers: ProgressMarkers | None = None
    fence: Callable[[pymysql.cursors.Cursor], None] | None = None


BackendFactory = Callable[[BackendContext], Backend]
"""Builds a backend for one table's import."""


def _logical(context: BackendContext) -> Backend:
    if context.errors is None:
        raise ValueError("the logical backend needs the import's error manager")
    strategy = context.config.conflict.strategy
    return LogicalBackend(
        context.settings,
        # "" (no detection) only exists for the physical backend: the logical one stops on a duplicate.
        strategy=(strategy if strategy is not ConflictStrategy.NONE else ConflictStrategy.ERROR).value,
        session_sql=context.session_sql,
        errors=context.errors,
        markers=context.markers,
        fence=context.fence,
    )


class BackendUnavailable(LightningError):
    """``tikv-importer.backend`` names a backend this installation cannot run."""


def _physical_unavailable(context: BackendContext | None) -> Backend:
    raise BackendUnavailable(
        'tikv-importer.backend = "local" (the physical backend) needs TiKV and PD; it is not available '
        'for this target yet. Use backend = "tidb" (logical), which works with MySQL, MariaDB and TiDB'
    )


BUILT_IN_BACKENDS: Mapping[BackendKind, BackendFactory] = MappingProxyType(
    {
        BackendKind.TIDB: _logical,  # "tidb" / "logical"
        BackendKind.LOCAL: _physical_unavailable,  # "local" / "physical"
    }
)
"""The backends that ship, by ``tikv-importer.backend`` (the config folds the aliases into these)."""


class _Registered:
    """Backends registered at run time, over the built-in ones (one per process, guarded by a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._factories: dict[BackendKind, BackendFactory] = {}

    def add(self, kind: BackendKind, factory: BackendFactory) -> Callable[[], None]:
        with self._lock:
            previous = self._factories.get(kind)
            self._factories[kind] = factory

        def unregister() -> None:
            with self._lock:
                if self._factories.get(kind) is factory:
                    if previous is None:
                        del self._factories[kind]
                    else:
                        self._factories[kind] = previous

        return unregister

    def get(self, kind: BackendKind) -> BackendFactory | None:
        with self._lock:
            return self._factories.get(kind)


_REGISTERED = _Registered()


def register_backend(kind: BackendKind, factory: BackendFactory) -> Callable[[], None]:
    """Make ``tikv-importer.backend = kind`` build its backends with ``factory`` in this process, in place
    of the built-in entry; return a function that undoes the registration.

    It must run in every process that runs ``prepare`` or ``import_table`` (for Airflow: where the DAG
    file or a plugin is imported)."""
    return _REGISTERED.add(BackendKind(kind), factory)


def backend_factory(kind: BackendKind) -> BackendFactory:
    """The factory for ``kind``: a registered one, else the built-in one."""
    factory = _REGISTERED.get(kind) or BUILT_IN_BACKENDS.get(kind)
    if factory is None:
        raise BackendUnavailable(f"tikv-importer.backend = {str(kind)!r}: no backend is registered for it")
    return factory


def require_backend(config: Config) -> None:
    """Fail at once (``prepare``) when the configured backend cannot run here, before anything is written."""
    factory = backend_factory(config.tikv_importer.backend)
    if factory is _physical_unavailable:
        _physical_unavailable(None)


def open_backend(context: BackendContext) -> Backend:
    """The backend ``tikv-importer.backend`` names, for one table's import."""
    return backend_factory(context.config.tikv_importer.backend)(context)
