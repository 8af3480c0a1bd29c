"""The configuration tree: Lightning's ``tidb-lightning.toml``, typed, with defaults in one place.

:func:`load_config` reads a TOML file, a nested dict (Airflow DAG params) merged over it, and a flat dict of
dotted overrides (the command line) applied last; then it validates everything once and resolves every
default, so the rest of the engine reads plain values and never re-checks them. A bad key or value raises
:class:`~airflow_provider_lightning.core.errors.ConfigError` naming the key's full path as written in the
TOML file (``mydumper.csv.separator``, ``routes[1].target-schema``, ``mydumper.files[0].type``) and, for an
enumeration, the values allowed.

Key names, defaults and checks are Lightning's (``pkg/lightning/config/config.go``, ``Adjust()``), so a
``tidb-lightning.toml`` written for Lightning loads unchanged. :data:`LIGHTNING_KEYS` gives every key
Lightning knows one status: honoured; ignored (TiKV tuning, logging, the status server, ...: accepted,
collected in :attr:`Config.ignored_keys` and logged once at WARNING with the reason); or refused by name,
where ignoring it would change the imported data. docs/configuration.md lists the same table. Keys
Lightning does not know at all are errors. :attr:`Config.written_keys` records which keys the user wrote,
so that this provider's own defaults (a strict ``sql-mode``, a larger ``logical-import-batch-size``)
apply only to keys left out.

Deliberate differences from Lightning:

* ``tikv-importer.backend`` defaults to ``"tidb"`` (the logical backend; ``"logical"`` is accepted too, as is
  ``"physical"`` for ``"local"``), so an import needs no configuration beyond a source and a target.
* ``post-restore.checksum`` keeps its value (default ``"required"``) with the tidb backend, where Lightning
  forces it off: this provider computes a row-level checksum it can compare on any MySQL-compatible target.
  ``post-restore.analyze`` likewise keeps its value (default ``"optional"``).
* Values Lightning silently replaces are errors here: a negative ``max-error``, a ``batch-import-ratio``
  outside ``[0, 1)``. An unknown ``mydumper.character-set`` fails at load, not when a schema file is read.
* ``max-error = {syntax = N}`` / ``{charset = N}`` are errors (Lightning rejects them as unknown options too);
  ``max-error.conflict`` is accepted but ignored, as in Lightning, where ``conflict.threshold`` replaced it.
* An unset ``checkpoint.dsn`` stays ``""``: the checkpoint store picks the place (for the file driver one
  file per source and target, so two imports never share Lightning's single ``/tmp/<schema>.pb``).
  ``checkpoint.driver`` also accepts ``"airflow"`` (the Airflow Task State Store).
* ``conflict.max-record-rows`` always follows ``conflict.threshold``: Lightning sets it to 0 for
  ``replace`` with the tidb backend because its batched ``REPLACE`` cannot tell which rows it displaced;
  this provider's logical backend can, so it records them.
* ``tidb.tls = "cluster"`` needs a CA in ``[tidb.security]`` (which defaults to ``[security]``), where
  Lightning looks at ``[security]`` only.
* ``[[routes]]`` with ``extract-table`` / ``extract-schema`` / ``extract-source`` (names written into a
  column) are refused: ignoring them would leave that column empty in every row. So are
  ``[[mydumper.ignore-data-columns]]`` (and its global form ``ignore-columns``) until they are applied.
* ``[black-white-list]``, which Lightning's current config no longer lists but older configs use, is honoured
  as Lightning honoured it (see :class:`BlackWhiteList`).
* ``mydumper.data-source-dir`` is not checked for existence (the storage layer reports a missing source when
  it lists it); local paths, ``file://``, ``local://`` and ``s3://`` are accepted.
* Where a value may be given as a string in Lightning's TOML it may be here; strings that spell an integer or
  a boolean (``"3306"``, ``"true"``) are accepted for integer and boolean keys, and numbers of seconds for
  durations, so DAG params and command-line overrides need no type knowledge. ``None`` in ``data`` or
  ``overrides`` means "not given".
"""

from __future__ import annotations

import difflib
import enum
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from airflow_provider_lightning.core.errors import ConfigError
from airflow_provider_lightning.core.checkpoints.model import CHECKPOINT_DRIVERS
from airflow_provider_lightning.core.mydump.router import FileRouteRule, compile_go_regexp
from airflow_provider_lightning.core.mydump.table_filter import DEFAULT_FILTER
from airflow_provider_lightning.core.mydump.table_router import RouteRule

__all__ = [
    "DEFAULT_FILTER",
    "LIGHTNING_KEYS",
    "BackendKind",
    "BlackWhiteList",
    "CSVConfig",
    "CheckpointConfig",
    "Config",
    "ConflictConfig",
    "ConflictStrategy",
    "CronConfig",
    "FileRouteRule",
    "IgnoreColumns",
    "KeepAfterSuccess",
    "KeyStatus",
    "LightningConfig",
    "LightningKey",
    "MaxError",
    "MydumperConfig",
    "PostOpLevel",
    "PostRestoreConfig",
    "RouteRule",
    "SecurityConfig",
    "SessionVariables",
    "TableName",
    "TiDBConfig",
    "TikvImporterConfig",
    "key_status_markdown",
    "lightning_key",
    "load_config",
    "parse_byte_size",
    "parse_duration",
]

log = logging.getLogger(__name__)

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
MAX_INT64 = 2**63 - 1

DEFAULT_SQL_MODE = "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER"
DEFAULT_CHECKPOINT_SCHEMA = "tidb_lightning_checkpoint"
DEFAULT_TASK_INFO_SCHEMA = "lightning_task_info"
DEFAULT_META_SCHEMA = "lightning_metadata"
# Ours: how long a table's owner lease lives without a heartbeat (renewed every third of it).
DEFAULT_TABLE_LEASE_DURATION = 30.0
MIN_TABLE_LEASE_DURATION = 0.3
DEFAULT_READ_BLOCK_SIZE = 64 * KIB
DEFAULT_BATCH_SIZE = 100 * GIB
DEFAULT_BATCH_IMPORT_RATIO = 0.75
DEFAULT_MAX_REGION_SIZE = 256 * MIB
DEFAULT_REGION_SPLIT_SIZE = 96 * MIB
DEFAULT_REGION_SPLIT_KEYS = 1_280_000
DEFAULT_MAX_ALLOWED_PACKET = 64 * MIB
DEFAULT_LOGICAL_IMPORT_BATCH_SIZE = 96 * KIB
DEFAULT_LOGICAL_IMPORT_BATCH_ROWS = 65536
DEFAULT_IO_CONCURRENCY = 5
# Lightning's defaults for the physical ("local") backend; the tidb backend uses region-concurrency.
LOCAL_TABLE_CONCURRENCY = 6
LOCAL_INDEX_CONCURRENCY = 2
# conflict.threshold when strategy is replace / ignore and the user left it at -1.
DEFAULT_CONFLICT_THRESHOLD = 10000
INVALID_CHAR_REPLACEMENT = "\ufffd"
REDACTED = "******"


def _cpu_count() -> int:
    """Logical CPUs this process may run on (Go's runtime.NumCPU(), which respects CPU affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


# ---------------------------------------------------------------------------------------------------------
# Enumerations


class BackendKind(str, enum.Enum):
    """How rows reach the target (``tikv-importer.backend``).

    ``TIDB`` is Lightning's "tidb" (logical) backend: SQL ``INSERT``/``REPLACE`` through a client connection,
    works on any MySQL-compatible server; the default here. ``LOCAL`` is Lightning's "local" (physical)
    backend: sorted KV pairs ingested into TiKV. ``"logical"`` and ``"physical"`` are accepted as aliases.
    """

    TIDB = "tidb"
    LOCAL = "local"

    def __str__(self) -> str:
        return self.value


class PostOpLevel(enum.IntEnum):
    """How hard a post-import step (checksum, analyze) is: numbers as Lightning's ``PostOpLevel``."""

    OFF = 0
    OPTIONAL = 1
    REQUIRED = 2

    def __str__(self) -> str:
        return self.name.lower()


class ConflictStrategy(str, enum.Enum):
    """What to do with rows whose primary or unique key is already taken (``conflict.strategy``).

    ``NONE`` ("") only survives loading with the local backend, where it means "do not detect"; with the tidb
    backend it becomes ``ERROR``, as in Lightning.
    """

    NONE = ""
    ERROR = "error"
    REPLACE = "replace"
    IGNORE = "ignore"

    def __str__(self) -> str:
        return self.value


class KeepAfterSuccess(str, enum.Enum):
    """What happens to the checkpoints after a successful import (``checkpoint.keep-after-success``)."""

    REMOVE = "remove"
    RENAME = "rename"
    ORIGIN = "origin"

    def __str__(self) -> str:
        return self.value


# ---------------------------------------------------------------------------------------------------------
# The tree


@dataclass(frozen=True, slots=True)
class MaxError:
    """How many non-fatal errors of each kind to tolerate (``lightning.max-error``).

    ``syntax`` is always 0 and ``charset`` unlimited, as in Lightning. ``conflict`` mirrors the resolved
    ``conflict.threshold`` (Lightning moved the conflict limit there), so both read the same number.
    """

    syntax: int = 0
    charset: int = MAX_INT64
    type: int = 0
    conflict: int = 0


@dataclass(frozen=True, slots=True)
class LightningConfig:
    """``[lightning]``: concurrency, prechecks and error tolerance."""

    region_concurrency: int = field(default_factory=_cpu_count)
    table_concurrency: int = field(default_factory=_cpu_count)
    index_concurrency: int = field(default_factory=_cpu_count)
    io_concurrency: int = DEFAULT_IO_CONCURRENCY
    check_requirements: bool = True
    meta_schema_name: str = DEFAULT_META_SCHEMA
    max_error: MaxError = field(default_factory=MaxError)
    task_info_schema_name: str = DEFAULT_TASK_INFO_SCHEMA
    # Ours, not Lightning's: the owner lease of each target table (core/importer/lease.py).
    table_lease_duration: float = field(default=DEFAULT_TABLE_LEASE_DURATION, metadata={"duration": True})
    table_lease_wait: float = field(default=0.0, metadata={"duration": True})


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """``[security]`` and ``[tidb.security]``: TLS certificate paths."""

    ca_path: str = ""
    cert_path: str = ""
    key_path: str = ""
    redact_info_log: bool = False


class SessionVariables(Mapping[str, str]):
    """``tidb.session-vars``: an immutable, hashable, picklable name -> value mapping.

    (``types.MappingProxyType`` cannot be pickled, and a Config travels to worker processes.)
    """

    __slots__ = ("_variables",)

    def __init__(self, variables: Mapping[str, str] | None = None) -> None:
        self._variables = dict(variables or {})

    def __getitem__(self, name: str) -> str:
        return self._variables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)

    def __hash__(self) -> int:
        return hash(frozenset(self._variables.items()))

    def __reduce__(self) -> tuple[type[SessionVariables], tuple[dict[str, str]]]:
        return (SessionVariables, (self._variables,))

    def __repr__(self) -> str:
        return f"SessionVariables({self._variables!r})"


@dataclass(frozen=True, slots=True)
class TiDBConfig:
    """``[tidb]``: the target server. The password never appears in ``repr()``."""

    host: str = "127.0.0.1"
    port: int = 4000
    user: str = "root"
    password: str = field(default="", repr=False)
    sql_mode: str = DEFAULT_SQL_MODE
    session_vars: SessionVariables = field(default_factory=SessionVariables)
    max_allowed_packet: int = DEFAULT_MAX_ALLOWED_PACKET
    tls: str = ""
    pd_addr: str = ""
    security: SecurityConfig = field(default_factory=SecurityConfig)


@dataclass(frozen=True, slots=True)
class CSVConfig:
    """``[mydumper.csv]``: how CSV files are read (MySQL ``LOAD DATA`` rules), validated as Lightning does.

    ``escaped_by`` is already resolved against the deprecated ``backslash_escape`` and ``null`` is never
    empty unless ``not_null`` is set.
    """

    separator: str = ","
    delimiter: str = '"'
    terminator: str = ""
    null: tuple[str, ...] = ("\\N",)
    header: bool = True
    header_schema_match: bool = True
    not_null: bool = False
    backslash_escape: bool = True
    escaped_by: str = "\\"
    trim_last_separator: bool = False


@dataclass(frozen=True, slots=True)
class IgnoreColumns:
    """One ``[[mydumper.ignore-data-columns]]`` entry: columns of the source files not to import.

    It applies to ``db``.``table`` or to the tables matched by ``table_filter``; column names are lower-cased.
    """

    db: str = ""
    table: str = ""
    table_filter: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MydumperConfig:
    """``[mydumper]``: where the dump is and how to read it.

    ``default_file_rules`` is resolved: true when there are no ``files`` rules unless set otherwise.
    """

    data_source_dir: str = ""
    filter: tuple[str, ...] = DEFAULT_FILTER
    no_schema: bool = False
    keep_definer: bool = False  # ours, not Lightning's: views keep their dump's DEFINER and SQL SECURITY
    character_set: str = "auto"
    data_character_set: str = "binary"
    data_invalid_char_replace: str = INVALID_CHAR_REPLACEMENT
    read_block_size: int = DEFAULT_READ_BLOCK_SIZE
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_import_ratio: float = DEFAULT_BATCH_IMPORT_RATIO
    strict_format: bool = False
    max_region_size: int = DEFAULT_MAX_REGION_SIZE
    default_file_rules: bool = True
    case_sensitive: bool = False
    ignore_data_columns: tuple[IgnoreColumns, ...] = ()
    csv: CSVConfig = field(default_factory=CSVConfig)
    files: tuple[FileRouteRule, ...] = ()


@dataclass(frozen=True, slots=True)
class TikvImporterConfig:
    """``[tikv-importer]``: the backend and its limits.

    ``region_split_size`` / ``region_split_keys`` of 0 resolve to Lightning's fallbacks (96 MiB, 1 280 000
    keys), since this provider does not ask TiKV for its region size. The deprecated ``on-duplicate`` and
    ``duplicate-resolution`` are folded into ``conflict.strategy``, ``incremental-import`` into
    ``parallel_import``.
    """

    backend: BackendKind = BackendKind.TIDB
    sorted_kv_dir: str = ""
    region_split_size: int = DEFAULT_REGION_SPLIT_SIZE
    region_split_keys: int = DEFAULT_REGION_SPLIT_KEYS
    disk_quota: int = MAX_INT64
    logical_import_batch_size: int = DEFAULT_LOGICAL_IMPORT_BATCH_SIZE
    logical_import_batch_rows: int = DEFAULT_LOGICAL_IMPORT_BATCH_ROWS
    parallel_import: bool = False


@dataclass(frozen=True, slots=True)
class CheckpointConfig:
    """``[checkpoint]``: where import progress is kept so a failed run resumes.

    ``driver`` is ``"file"`` (a JSON file at ``dsn``), ``"mysql"`` (tables in schema ``schema`` of the server
    at ``dsn``, a Go DSN ``user:password@tcp(host:port)/``) or ``"airflow"`` (the Airflow Task State Store).
    An empty ``dsn`` leaves the place to the checkpoint store: a file per source and target, or the
    ``[tidb]`` server. ``dsn`` may hold a password, so it is left out of ``repr()``.
    """

    enable: bool = True
    schema: str = DEFAULT_CHECKPOINT_SCHEMA
    driver: str = "file"
    dsn: str = field(default="", repr=False)
    keep_after_success: KeepAfterSuccess = KeepAfterSuccess.REMOVE


@dataclass(frozen=True, slots=True)
class ConflictConfig:
    """``[conflict]``: duplicate-key handling, resolved as Lightning's ``Conflict.adjust``.

    ``threshold`` is the number of conflicting rows tolerated (0 for "error"); ``max_record_rows`` how many
    of them are written to the conflict table, which is always the threshold (as Lightning, except that
    Lightning records nothing for "replace" with the tidb backend).
    """

    strategy: ConflictStrategy = ConflictStrategy.ERROR
    precheck_conflict_before_import: bool = False
    threshold: int = 0
    max_record_rows: int = 0


@dataclass(frozen=True, slots=True)
class PostRestoreConfig:
    """``[post-restore]``: the steps after the rows are in."""

    checksum: PostOpLevel = PostOpLevel.REQUIRED
    analyze: PostOpLevel = PostOpLevel.OPTIONAL
    post_process_at_last: bool = True


@dataclass(frozen=True, slots=True)
class CronConfig:
    """``[cron]``: Lightning's periodic background actions, in seconds. Accepted for compatibility."""

    switch_mode: float = field(default=300.0, metadata={"duration": True})
    log_progress: float = field(default=300.0, metadata={"duration": True})
    check_disk_quota: float = field(default=60.0, metadata={"duration": True})


@dataclass(frozen=True, slots=True)
class TableName:
    """A ``{db-name = ..., tbl-name = ...}`` entry of ``[black-white-list]``: patterns, ``~`` for a regexp."""

    db_name: str
    tbl_name: str


@dataclass(frozen=True, slots=True)
class BlackWhiteList:
    """``[black-white-list]``: the table filter Lightning had before ``mydumper.filter``, still honoured.

    As in Lightning, a table is imported when it passes both the database rule (``do-dbs`` if given,
    otherwise not ``ignore-dbs``) and the table rule (``do-tables`` if given, otherwise not
    ``ignore-tables``); it cannot be combined with a ``mydumper.filter`` of one's own.
    """

    do_dbs: tuple[str, ...] = ()
    ignore_dbs: tuple[str, ...] = ()
    do_tables: tuple[TableName, ...] = ()
    ignore_tables: tuple[TableName, ...] = ()

    @property
    def given(self) -> bool:
        return bool(self.do_dbs or self.ignore_dbs or self.do_tables or self.ignore_tables)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration, as :func:`load_config` resolved it.

    ``ignored_keys`` lists the keys that were given but that this provider does not act on, and
    ``written_keys`` every key given (dotted, arrays as ``routes[0].target-schema``); neither takes part in
    equality, so a config and its :meth:`to_dict` reloaded compare equal.
    """

    lightning: LightningConfig = field(default_factory=LightningConfig)
    tidb: TiDBConfig = field(default_factory=TiDBConfig)
    mydumper: MydumperConfig = field(default_factory=MydumperConfig)
    routes: tuple[RouteRule, ...] = ()
    tikv_importer: TikvImporterConfig = field(default_factory=TikvImporterConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    conflict: ConflictConfig = field(default_factory=ConflictConfig)
    post_restore: PostRestoreConfig = field(default_factory=PostRestoreConfig)
    cron: CronConfig = field(default_factory=CronConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    black_white_list: BlackWhiteList = field(default_factory=BlackWhiteList)
    ignored_keys: tuple[str, ...] = field(default=(), compare=False)
    written_keys: frozenset[str] = field(default=frozenset(), compare=False)

    def written(self, key: str) -> bool:
        """Whether the user wrote ``key`` (a dotted path such as ``tidb.sql-mode``), in the file, the data or
        the overrides: this provider's own defaults, where they differ from Lightning's, apply only to keys
        left out, so a value written is used as written even when it equals Lightning's default."""
        return key in self.written_keys

    def to_dict(self, *, redact: bool = True) -> dict[str, Any]:
        """The nested, TOML-keyed, JSON-serialisable dict of this config.

        ``load_config(data=config.to_dict(redact=False))`` gives back an equal config (in which every key
        counts as written, so this provider's defaults for left-out keys no longer apply). With ``redact`` the
        target password and a password inside a MySQL checkpoint DSN are replaced by ``"******"``.
        """
        tree = {
            "lightning": _to_toml(self.lightning),
            "tidb": _to_toml(self.tidb),
            "mydumper": _to_toml(self.mydumper),
            "routes": [_to_toml(rule) for rule in self.routes],
            "tikv-importer": _to_toml(self.tikv_importer),
            "checkpoint": _to_toml(self.checkpoint),
            "conflict": _to_toml(self.conflict),
            "post-restore": _to_toml(self.post_restore),
            "cron": _to_toml(self.cron),
            "security": _to_toml(self.security),
        }
        if self.black_white_list.given:
            tree["black-white-list"] = _to_toml(self.black_white_list)
        # The other parts of max-error are fixed or derived; only "type" is the user's to set.
        tree["lightning"]["max-error"] = {"type": self.lightning.max_error.type}
        if redact:
            if self.tidb.password:
                tree["tidb"]["password"] = REDACTED
            tree["checkpoint"]["dsn"] = _redact_dsn(self.checkpoint.dsn)
        return tree


def _to_toml(value: Any) -> Any:
    """A dataclass, enum, tuple or mapping of the tree as plain TOML-shaped (and JSON-serialisable) data."""
    if is_dataclass(value):
        table: dict[str, Any] = {}
        for item in fields(value):
            attribute = getattr(value, item.name)
            if attribute is None:  # TOML has no null: an unset optional key is simply absent
                continue
            key = item.name.replace("_", "-")
            table[key] = _format_duration(attribute) if item.metadata.get("duration") else _to_toml(attribute)
        return table
    if isinstance(value, PostOpLevel):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_to_toml(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _to_toml(item) for key, item in value.items()}
    return value


def _redact_dsn(dsn: str) -> str:
    """Hide the password of a Go MySQL DSN ``user:password@tcp(host:port)/``; file paths pass unchanged."""
    at = dsn.rfind("@")
    colon = dsn.find(":", 0, at)
    if at < 0 or colon < 0 or "/" in dsn[:colon]:
        return dsn
    return f"{dsn[:colon]}:{REDACTED}{dsn[at:]}"


# ---------------------------------------------------------------------------------------------------------
# Loading


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    data: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load, validate and resolve the configuration.

    :param path: a ``tidb-lightning.toml`` file.
    :param data: a nested dict with the same keys (as Airflow DAG params give it), merged over the file:
        tables merge key by key, any other value (arrays included) replaces the file's.
    :param overrides: dotted key paths and values (``{"mydumper.data-source-dir": "/x", "tidb.port": 3306}``),
        applied last.
    :raises ConfigError: for a file that cannot be read or parsed, an unknown key, or a value a key cannot
        take; the message names the key and what to write instead.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_toml_file(path)
    if data is not None:
        if not isinstance(data, Mapping):
            raise ConfigError("(data)", f"expected a table (a dict of sections), got {_show(data)}")
        _merge_into(raw, data)
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            raise ConfigError("(overrides)", f"expected a dict of dotted keys, got {_show(overrides)}")
        for dotted_key, value in overrides.items():
            _apply_override(raw, dotted_key, value)
    config = _build_config(raw)
    if config.ignored_keys:
        log.warning(
            "ignoring configuration keys that TiDB Lightning knows but that have no effect here: %s",
            "; ".join(f"{key} ({_why(key)})" for key in config.ignored_keys),
        )
    if config.black_white_list.given:
        log.warning(
            "[black-white-list] is deprecated in TiDB Lightning; it is honoured, but mydumper.filter is the "
            "current way to choose tables"
        )
    return config


def _why(key: str) -> str:
    entry = lightning_key(key)
    return entry.why if entry is not None else "not used"


def _refused(key: str) -> ConfigError:
    """The error for a key whose status is "refused when ..." and whose condition holds."""
    return ConfigError(key, f"is not supported: {_why(key)}; remove it")


def _read_toml_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    where = os.fspath(path)
    try:
        with open(where, "rb") as file:
            content = file.read()
    except OSError as error:
        raise ConfigError(where, f"cannot read the config file: {error.strerror or error}") from None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            where, f"the config file is not UTF-8 (bad byte at offset {error.start}); save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            where, f"the config file is not valid TOML: {error}; fix the syntax there"
        ) from None


def _merge_into(target: dict[str, Any], source: Mapping[Any, Any]) -> None:
    for key, value in source.items():
        if value is None:
            continue
        name = str(key)
        if isinstance(value, Mapping) and isinstance(target.get(name), Mapping):
            merged = dict(target[name])
            _merge_into(merged, value)
            target[name] = merged
        else:
            target[name] = _plain(value)


def _plain(value: Any) -> Any:
    """A private copy of nested dicts and lists, so merging never changes the caller's objects."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _apply_override(raw: dict[str, Any], dotted_key: Any, value: Any) -> None:
    if not isinstance(dotted_key, str) or not dotted_key or any(not part for part in dotted_key.split(".")):
        raise ConfigError(str(dotted_key), "an override key must be a dotted key path like 'tidb.port'")
    if value is None:
        return
    *parents, last = dotted_key.split(".")
    table = raw
    for depth, part in enumerate(parents):
        child = table.get(part)
        if child is None:
            child = table[part] = {}
        elif not isinstance(child, dict):
            where = ".".join(parents[: depth + 1])
            raise ConfigError(dotted_key, f"cannot set it: '{where}' is not a table")
        table = child
    table[last] = _plain(value)


_T = TypeVar("_T")


class _Table:
    """One TOML table being read: hands out its keys and, at the end, rejects the keys nobody asked for."""

    def __init__(self, raw: Any, path: str, ignored: list[str]) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(path or "(top level)", f"expected a table, got {_show(raw)}")
        self._raw: Mapping[str, Any] = {str(key): value for key, value in raw.items()}
        self.path = path
        self._ignored = ignored
        self._known: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def given(self, name: str) -> bool:
        return name in self._raw

    def raw(self, name: str) -> Any:
        return self._raw.get(name)

    def read(self, name: str, parse: Callable[[Any, str], _T], default: _T) -> _T:
        self._known.add(name)
        if name not in self._raw:
            return default
        return parse(self._raw[name], self.key(name))

    def table(self, name: str) -> _Table:
        self._known.add(name)
        return _Table(self._raw.get(name, {}), self.key(name), self._ignored)

    def array_of_tables(self, name: str) -> list[_Table]:
        self._known.add(name)
        items = self._raw.get(name, [])
        if not isinstance(items, (list, tuple)):
            raise ConfigError(
                self.key(name), f"expected an array of tables ([[{self.key(name)}]]), got {_show(items)}"
            )
        return [_Table(item, f"{self.key(name)}[{index}]", self._ignored) for index, item in enumerate(items)]

    def report_ignored(self, name: str) -> None:
        """A key whose status is "ignored when ..." and whose condition holds (see LIGHTNING_KEYS)."""
        self._ignored.append(self.key(name))

    def reject_unknown_keys(self) -> None:
        """Apply LIGHTNING_KEYS to the keys written here, then reject the keys nobody asked for.

        A key always ignored is reported (and accepted), one always refused fails naming it and why.
        """
        for name in self._raw:
            entry = lightning_key(self.key(name))
            if entry is not None and not entry.when:
                if entry.status is KeyStatus.REFUSED:
                    # An empty value (ignore-data-columns = []) asks for nothing, so it is accepted.
                    if self._raw[name] not in ([], {}, ()):
                        raise ConfigError(self.key(name), f"is not supported: {entry.why}; remove it")
                    continue
                if entry.status is KeyStatus.IGNORED:
                    self._ignored.append(self.key(name))
                    continue
            if name in self._known:
                continue
            close = difflib.get_close_matches(name, sorted(self._known), n=1)
            if close:
                hint = f"did you mean '{close[0]}'?"
            else:
                where = f"keys of [{self.path}]" if self.path else "sections"
                hint = f"the {where} are: {', '.join(sorted(self._known))}"
            raise ConfigError(self.key(name), f"unknown configuration key; {hint}")


# ---------------------------------------------------------------------------------------------------------
# Every key of Lightning's TOML, with what this provider does with it


class KeyStatus(str, enum.Enum):
    """What this provider does with a key of Lightning's TOML when a config file writes it."""

    HONOURED = "honoured"  # read into the typed tree and acted on
    IGNORED = "ignored"  # accepted, and a warning names the key and why it has no effect here
    REFUSED = "refused"  # a ConfigError names the key: ignoring it would change the imported data

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class LightningKey:
    """One key of Lightning's configuration (``pkg/lightning/config``: ``Config`` and ``GlobalConfig``).

    ``key`` is the dotted path as written in TOML, with ``[]`` for an entry of an array of tables
    (``routes[].schema-pattern``). ``why`` says what the key does here (honoured) or why it has no effect or
    is refused; ``when`` is empty when the status always applies, otherwise the condition under which it
    does (the key is honoured, or harmlessly at its default, otherwise).
    """

    key: str
    status: KeyStatus
    why: str
    when: str = ""


_H, _I, _R = KeyStatus.HONOURED, KeyStatus.IGNORED, KeyStatus.REFUSED
_PHYSICAL = (
    "a TiKV / physical-backend knob; the logical backend writes SQL to the target and has no use for it"
)
_LOG = "logging is configured by Airflow or by the lightning CLI's --log-level, not by the config file"
_TLS = "TLS to the target, as Lightning reads it (core/tls.py; docs/security.md)"
_CRON = (
    "Lightning's periodic TiKV mode switch and disk-quota check have no counterpart; "
    "progress is logged per chunk"
)
_DM = "only used when Lightning runs inside DM or in server mode"

# One row per key. The docs (docs/configuration.md, checked by a test) and the load-time warnings and
# refusals all come from this table.
LIGHTNING_KEYS: tuple[LightningKey, ...] = (
    # [lightning]
    LightningKey("lightning.region-concurrency", _H, "chunks imported at once"),
    LightningKey(
        "lightning.table-concurrency",
        _H,
        "tables imported at once (command line; Airflow maps one task per table)",
    ),
    LightningKey(
        "lightning.index-concurrency",
        _I,
        "index engines exist only in the physical backend; the logical backend writes rows and their "
        "indexes together",
    ),
    LightningKey(
        "lightning.io-concurrency",
        _I,
        "file reads are bounded by region-concurrency: one reader per chunk being imported",
    ),
    LightningKey("lightning.check-requirements", _H, "run the precheck step"),
    LightningKey(
        "lightning.meta-schema-name",
        _I,
        "the schema of Lightning's parallel physical import; the logical backend keeps no such metadata",
    ),
    LightningKey("lightning.max-error", _H, "type errors tolerated (the integer form)"),
    LightningKey("lightning.max-error.type", _H, "type errors tolerated (the table form)"),
    LightningKey(
        "lightning.max-error.conflict",
        _I,
        "deprecated in Lightning, which ignores it too: conflict.threshold sets the limit",
    ),
    LightningKey(
        "lightning.max-error.syntax",
        _R,
        "syntax errors are never tolerated (Lightning fixes this at 0); a tolerated syntax error would "
        "skip rows silently",
    ),
    LightningKey(
        "lightning.max-error.charset",
        _R,
        "charset errors are not counted (Lightning fixes this as unlimited)",
    ),
    LightningKey(
        "lightning.max-error-records",
        _I,
        "deprecated in Lightning: conflict.max-record-rows replaced it, and that follows conflict.threshold",
    ),
    LightningKey(
        "lightning.task-info-schema-name",
        _H,
        "schema of the error tables, progress markers and table leases; \"\" turns them off",
    ),
    LightningKey(
        "lightning.status-addr",
        _I,
        "there is no status server: progress shows in the Airflow UI and the task logs",
    ),
    LightningKey(
        "lightning.server-mode",
        _I,
        "there is no server mode: each import is a DAG run or a lightning CLI run",
    ),
    LightningKey("lightning.pprof-port", _I, "legacy alias of status-addr; there is no status server"),
    LightningKey("lightning.level", _I, _LOG),
    LightningKey("lightning.file", _I, _LOG),
    LightningKey("lightning.max-size", _I, "log rotation: " + _LOG),
    LightningKey("lightning.max-days", _I, "log rotation: " + _LOG),
    LightningKey("lightning.max-backups", _I, "log rotation: " + _LOG),
    LightningKey("lightning.enable-diagnose-logs", _I, _LOG),
    # [tidb]
    LightningKey("tidb.host", _H, "the target (inside Airflow the connection's host wins)"),
    LightningKey("tidb.port", _H, "the target's port"),
    LightningKey("tidb.user", _H, "the target's user"),
    LightningKey("tidb.password", _H, "the target's password"),
    LightningKey(
        "tidb.sql-mode",
        _H,
        "the import session's sql_mode, as written; left out, STRICT_TRANS_TABLES is added to Lightning's"
        " default",
    ),
    LightningKey("tidb.session-vars", _H, "set in every import session, last"),
    LightningKey("tidb.max-allowed-packet", _H, "upper bound of a statement"),
    LightningKey("tidb.tls", _H, _TLS),
    LightningKey(
        "tidb.pd-addr",
        _I,
        "PD is a TiDB cluster component; the logical backend only talks SQL to the target",
    ),
    LightningKey("tidb.status-port", _I, "TiDB's HTTP status port is only used by the physical backend"),
    LightningKey("tidb.log-level", _I, _LOG),
    LightningKey(
        "tidb.build-stats-concurrency",
        _I,
        "a TiDB session variable for ANALYZE; set it in tidb.session-vars if the target is TiDB",
    ),
    LightningKey(
        "tidb.distsql-scan-concurrency",
        _I,
        "a TiDB session variable for the checksum; set it in tidb.session-vars if the target is TiDB",
    ),
    LightningKey(
        "tidb.index-serial-scan-concurrency",
        _I,
        "a TiDB session variable for the checksum; set it in tidb.session-vars if the target is TiDB",
    ),
    LightningKey(
        "tidb.checksum-table-concurrency",
        _I,
        "a TiDB session variable for ADMIN CHECKSUM; the row checksum here runs one query per table",
    ),
    LightningKey("tidb.security.ca-path", _H, _TLS),
    LightningKey("tidb.security.cert-path", _H, _TLS),
    LightningKey("tidb.security.key-path", _H, _TLS),
    LightningKey(
        "tidb.security.redact-info-log",
        _I,
        "passwords are never logged; nothing else is redacted",
        when="set to a value other than [security]'s",
    ),
    # [security]
    LightningKey("security.ca-path", _H, _TLS),
    LightningKey("security.cert-path", _H, _TLS),
    LightningKey("security.key-path", _H, _TLS),
    LightningKey(
        "security.redact-info-log",
        _I,
        "passwords are never logged; nothing else is redacted",
        when="set to true",
    ),
    # [checkpoint]
    LightningKey("checkpoint.enable", _H, "keep progress so a failed run resumes"),
    LightningKey("checkpoint.schema", _H, "schema (mysql driver) or name of the checkpoints"),
    LightningKey("checkpoint.driver", _H, "'file', 'mysql', or 'airflow' (the Task State Store)"),
    LightningKey("checkpoint.dsn", _H, "where the checkpoints are"),
    LightningKey("checkpoint.keep-after-success", _H, "'remove', 'rename' or 'origin'"),
    # [mydumper]
    LightningKey("mydumper.data-source-dir", _H, "the dump: a local path or s3://bucket/prefix"),
    LightningKey("mydumper.source-id", _I, _DM),
    LightningKey("mydumper.read-block-size", _H, "read buffer size"),
    LightningKey("mydumper.batch-size", _H, "source bytes per engine (a group of chunks imported together)"),
    LightningKey(
        "mydumper.batch-import-ratio",
        _I,
        "it shapes engine sizes so the physical backend's ingest overlaps encoding; the logical backend "
        "has nothing to overlap",
    ),
    LightningKey("mydumper.character-set", _H, "encoding of schema files"),
    LightningKey(
        "mydumper.data-character-set",
        _H,
        "encoding of CSV data (converted as Lightning does), and of SQL files that set no charset themselves",
    ),
    LightningKey(
        "mydumper.data-invalid-char-replace",
        _H,
        "what replaces bytes that do not convert from data-character-set",
    ),
    LightningKey("mydumper.max-region-size", _H, "size of a chunk of a large CSV file (with strict-format)"),
    LightningKey("mydumper.filter", _H, "which tables are imported"),
    LightningKey(
        "mydumper.no-schema",
        _H,
        "deprecated in Lightning, honoured: the tables already exist in the target",
    ),
    LightningKey("mydumper.case-sensitive", _H, "filters and routes compare names exactly"),
    LightningKey("mydumper.strict-format", _H, "CSV files may be split at line ends"),
    LightningKey("mydumper.default-file-rules", _H, "also apply mydumper/Dumpling's file names"),
    LightningKey(
        "mydumper.ignore-data-columns",
        _R,
        "columns of the files to skip are not applied yet; importing them instead would change the data",
    ),
    LightningKey(
        "mydumper.ignore-columns",
        _R,
        "the global form of ignore-data-columns, not applied yet; importing the columns would change the "
        "data",
    ),
    LightningKey("mydumper.files[].pattern", _H, "a regular expression over file paths"),
    LightningKey("mydumper.files[].path", _H, "one file"),
    LightningKey("mydumper.files[].schema", _H, "the file's database"),
    LightningKey("mydumper.files[].table", _H, "the file's table"),
    LightningKey("mydumper.files[].type", _H, "the file's type"),
    LightningKey("mydumper.files[].key", _H, "the file's sort key"),
    LightningKey("mydumper.files[].compression", _H, "the file's compression"),
    # [mydumper.csv]
    LightningKey("mydumper.csv.separator", _H, "field separator"),
    LightningKey("mydumper.csv.delimiter", _H, "quote character"),
    LightningKey("mydumper.csv.terminator", _H, "line terminator"),
    LightningKey("mydumper.csv.null", _H, "the texts that mean NULL"),
    LightningKey("mydumper.csv.header", _H, "the first line names the columns"),
    LightningKey("mydumper.csv.header-schema-match", _H, "the header's names are the target's columns"),
    LightningKey(
        "mydumper.csv.trim-last-separator",
        _H,
        "deprecated in Lightning, honoured: a trailing separator ends the line",
    ),
    LightningKey("mydumper.csv.not-null", _H, "no field is NULL"),
    LightningKey(
        "mydumper.csv.backslash-escape",
        _H,
        "deprecated in Lightning (escaped-by), honoured the same way",
    ),
    LightningKey("mydumper.csv.escaped-by", _H, "escape character"),
    # [tikv-importer]
    LightningKey(
        "tikv-importer.backend",
        _H,
        "'tidb' (logical, the default here); 'local' (physical) loads, and the prepare step refuses it "
        "until TiKV ingest is available",
    ),
    LightningKey(
        "tikv-importer.on-duplicate",
        _H,
        "deprecated in Lightning, honoured: conflict.strategy when that is not set",
    ),
    LightningKey(
        "tikv-importer.duplicate-resolution",
        _H,
        "deprecated in Lightning, honoured: conflict.strategy when that is not set",
    ),
    LightningKey(
        "tikv-importer.incremental-import",
        _H,
        "deprecated in Lightning, honoured as parallel-import",
    ),
    LightningKey(
        "tikv-importer.parallel-import",
        _H,
        "several imports may write one table together, each under its own lease; the target tables may"
        " already hold rows (the empty-table precheck is relaxed)",
    ),
    LightningKey(
        "tikv-importer.logical-import-batch-size",
        _H,
        "bytes per INSERT; left out, 1 MiB on MySQL and MariaDB",
    ),
    LightningKey("tikv-importer.logical-import-batch-rows", _H, "rows per INSERT"),
    LightningKey("tikv-importer.disk-quota", _H, "checked by the precheck"),
    LightningKey("tikv-importer.sorted-kv-dir", _H, "physical backend only: its sorted KV pairs"),
    LightningKey("tikv-importer.region-split-size", _I, _PHYSICAL),
    LightningKey("tikv-importer.region-split-keys", _I, _PHYSICAL),
    LightningKey("tikv-importer.addr", _I, "deprecated in Lightning: the removed importer backend's address"),
    LightningKey("tikv-importer.remote-addr", _I, "the remote backend is not available"),
    LightningKey("tikv-importer.remote-worker-addr", _I, "the remote backend is not available"),
    LightningKey("tikv-importer.max-kv-pairs", _I, _PHYSICAL),
    LightningKey("tikv-importer.send-kv-pairs", _I, "deprecated in Lightning; " + _PHYSICAL),
    LightningKey("tikv-importer.send-kv-size", _I, _PHYSICAL),
    LightningKey("tikv-importer.compress-kv-pairs", _I, _PHYSICAL),
    LightningKey("tikv-importer.region-split-batch-size", _I, _PHYSICAL),
    LightningKey("tikv-importer.region-split-concurrency", _I, _PHYSICAL),
    LightningKey("tikv-importer.region-check-backoff-limit", _I, _PHYSICAL),
    LightningKey("tikv-importer.range-concurrency", _I, _PHYSICAL),
    LightningKey("tikv-importer.keyspace-name", _I, _PHYSICAL),
    LightningKey("tikv-importer.add-index-by-sql", _I, _PHYSICAL),
    LightningKey("tikv-importer.engine-mem-cache-size", _I, _PHYSICAL),
    LightningKey("tikv-importer.local-writer-mem-cache-size", _I, _PHYSICAL),
    LightningKey("tikv-importer.store-write-bwlimit", _I, _PHYSICAL),
    LightningKey("tikv-importer.pause-pd-scheduler-scope", _I, _PHYSICAL),
    LightningKey("tikv-importer.block-size", _I, _PHYSICAL),
    LightningKey("tikv-importer.chunk-size", _I, "the remote backend is not available"),
    LightningKey("tikv-importer.chunk-cache-dir", _I, "the remote backend is not available"),
    LightningKey(
        "tikv-importer.logical-import-prep-stmt",
        _I,
        "statements carry literal values; Lightning's default (off) is what happens",
    ),
    # [post-restore]
    LightningKey(
        "post-restore.checksum",
        _H,
        "compare a row checksum of source and target ('required' here even with the logical backend)",
    ),
    LightningKey("post-restore.analyze", _H, "ANALYZE TABLE after the import"),
    LightningKey(
        "post-restore.post-process-at-last",
        _I,
        "checksum and analyze run in the post_process task after all tables, always",
    ),
    LightningKey("post-restore.level-1-compact", _I, _PHYSICAL),
    LightningKey("post-restore.compact", _I, _PHYSICAL),
    LightningKey("post-restore.checksum-via-sql", _I, "the checksum is always a SQL query here"),
    # [cron]
    LightningKey("cron.switch-mode", _I, _CRON, when="set to a value other than the default"),
    LightningKey("cron.log-progress", _I, _CRON, when="set to a value other than the default"),
    LightningKey("cron.check-disk-quota", _I, _CRON, when="set to a value other than the default"),
    # [[routes]]
    LightningKey("routes[].schema-pattern", _H, "source databases to route"),
    LightningKey("routes[].table-pattern", _H, "source tables to route"),
    LightningKey("routes[].target-schema", _H, "target database"),
    LightningKey("routes[].target-table", _H, "target table"),
    LightningKey(
        "routes[].extract-table",
        _R,
        "writing part of a table name into a column is not supported; ignoring it would leave that column"
        " empty in every row",
    ),
    LightningKey(
        "routes[].extract-schema",
        _R,
        "writing part of a schema name into a column is not supported; ignoring it would leave that "
        "column empty in every row",
    ),
    LightningKey(
        "routes[].extract-source",
        _R,
        "writing the source id into a column is not supported; ignoring it would leave that column empty "
        "in every row",
    ),
    # [conflict]
    LightningKey("conflict.strategy", _H, "'error', 'replace' or 'ignore' for rows whose key is taken"),
    LightningKey("conflict.threshold", _H, "conflicting rows tolerated"),
    LightningKey(
        "conflict.max-record-rows",
        _I,
        "as in Lightning, the conflict table records up to conflict.threshold rows",
        when="different from conflict.threshold",
    ),
    LightningKey(
        "conflict.precheck-conflict-before-import",
        _R,
        "as in Lightning: the tidb (logical) backend cannot detect conflicts before the import",
        when="true with the tidb backend (ignored with the local backend)",
    ),
    # [black-white-list]
    LightningKey("black-white-list.do-dbs", _H, "deprecated in Lightning, honoured: only these databases"),
    LightningKey(
        "black-white-list.ignore-dbs",
        _H,
        "deprecated in Lightning, honoured: not these databases (unless do-dbs is set)",
    ),
    LightningKey(
        "black-white-list.do-tables[].db-name",
        _H,
        "deprecated in Lightning, honoured: only these tables",
    ),
    LightningKey(
        "black-white-list.do-tables[].tbl-name",
        _H,
        "deprecated in Lightning, honoured: only these tables",
    ),
    LightningKey(
        "black-white-list.ignore-tables[].db-name",
        _H,
        "deprecated in Lightning, honoured: not these tables (unless do-tables is set)",
    ),
    LightningKey(
        "black-white-list.ignore-tables[].tbl-name",
        _H,
        "deprecated in Lightning, honoured: not these tables (unless do-tables is set)",
    ),
)
_KEYS_BY_NAME = MappingProxyType({entry.key: entry for entry in LIGHTNING_KEYS})
_ARRAY_INDEX = re.compile(r"\[[0-9]+\]")


def lightning_key(key: str) -> LightningKey | None:
    """The row of :data:`LIGHTNING_KEYS` for a key path as written (``routes[2].target-schema`` works too)."""
    return _KEYS_BY_NAME.get(_ARRAY_INDEX.sub("[]", key))


def _always(status: KeyStatus, section: str) -> tuple[str, ...]:
    """Names of the keys of ``section`` that have ``status`` whatever their value."""
    prefix = section + "."
    return tuple(
        entry.key[len(prefix) :]
        for entry in LIGHTNING_KEYS
        if entry.status is status and not entry.when and entry.key.startswith(prefix)
        and "." not in entry.key[len(prefix) :]
    )


def key_status_markdown() -> str:
    """The Markdown table of every key and its status that docs/configuration.md holds (a test compares)."""
    lines = ["| key | status | what it does here, or why not |", "|---|---|---|"]
    for entry in LIGHTNING_KEYS:
        status = f"{entry.status} when {entry.when}" if entry.when else str(entry.status)
        lines.append(f"| `{entry.key}` | {status} | {entry.why} |")
    return "\n".join(lines) + "\n"


def _written_keys(raw: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """The dotted paths of the keys a config file (with data and overrides) writes, arrays as ``name[i]``."""
    for name, value in raw.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping) and path != "tidb.session-vars":
            yield from _written_keys(value, f"{path}.")
        elif isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            for index, item in enumerate(value):
                yield from _written_keys(item, f"{path}[{index}].")
        else:
            yield path


def _build_config(raw: Mapping[str, Any]) -> Config:
    ignored: list[str] = []
    root = _Table(raw, "", ignored)
    # Lightning's Adjust() order: the backend first, since most defaults depend on it.
    tikv_importer, on_duplicate, duplicate_resolution = _read_tikv_importer(root.table("tikv-importer"))
    backend = tikv_importer.backend
    lightning = _read_lightning(root.table("lightning"), backend)
    mydumper = _read_mydumper(root.table("mydumper"))
    post_restore = _read_post_restore(root.table("post-restore"))
    security = _read_security(root.table("security"), SecurityConfig())
    tidb = _read_tidb(root.table("tidb"), security)
    checkpoint = _read_checkpoint(root.table("checkpoint"))
    routes = _read_routes(root.array_of_tables("routes"))
    conflict = _read_conflict(root.table("conflict"), tikv_importer, on_duplicate, duplicate_resolution)
    cron = _read_cron(root.table("cron"))
    black_white_list = _read_black_white_list(root.table("black-white-list"), mydumper)
    root.reject_unknown_keys()
    lightning = replace(lightning, max_error=replace(lightning.max_error, conflict=conflict.threshold))
    return Config(
        lightning=lightning,
        tidb=tidb,
        mydumper=mydumper,
        routes=routes,
        tikv_importer=tikv_importer,
        checkpoint=checkpoint,
        conflict=conflict,
        post_restore=post_restore,
        cron=cron,
        security=security,
        black_white_list=black_white_list,
        ignored_keys=tuple(dict.fromkeys(ignored)),
        written_keys=frozenset(_written_keys(raw)),
    )


# ---- values out of a list -------------------------------------------------------------------------------


def _choice_parser(
    choices: Mapping[str, _T],
    problem: str,
    *,
    shown: Iterable[str] | None = None,
    empty: str | None = None,
    booleans: bool = False,
) -> Callable[[Any, str], _T]:
    """A parser of one value out of ``choices`` (spelt in any case, around spaces) for an enumerated key.

    ``problem`` starts the error message and ``shown`` the names it lists (all of ``choices`` by default);
    ``empty`` is the name an empty string stands for; with ``booleans``, ``false`` / ``true`` (also as TOML
    booleans) are read as the ``"false"`` / ``"true"`` entries of ``choices``, and any other non-string
    value is refused with the allowed names.
    """
    allowed = _allowed(choices if shown is None else shown) + (" (or false / true)" if booleans else "")

    def parse(value: Any, key: str) -> _T:
        if booleans and isinstance(value, bool):
            return choices[str(value).lower()]
        if booleans and not isinstance(value, str):
            raise ConfigError(key, f"{problem} {_show(value)}; allowed: {allowed}")
        name = _parse_str(value, key).strip().lower()
        if not name and empty is not None:
            name = empty
        if name not in choices:
            raise ConfigError(key, f"{problem} {_show(value)}; allowed: {allowed}")
        return choices[name]

    return parse


def _allowed(choices: Iterable[str]) -> str:
    return ", ".join(repr(choice) for choice in choices)



# ---- [tikv-importer] -------------------------------------------------------------------------------------

_BACKENDS = MappingProxyType(
    {
        "tidb": BackendKind.TIDB,
        "logical": BackendKind.TIDB,
        "local": BackendKind.LOCAL,
        "physical": BackendKind.LOCAL,
    }
)
_STRATEGIES = MappingProxyType(
    {
        "": ConflictStrategy.NONE,
        "none": ConflictStrategy.NONE,
        "error": ConflictStrategy.ERROR,
        "replace": ConflictStrategy.REPLACE,
        "ignore": ConflictStrategy.IGNORE,
    }
)


_parse_backend_name = _choice_parser(_BACKENDS, "unsupported backend")
_parse_strategy_name = _choice_parser(
    _STRATEGIES, "invalid conflict strategy", shown=("error", "replace", "ignore", "")
)


def _parse_backend(value: Any, key: str) -> BackendKind:
    if isinstance(value, str) and value.strip().lower() == "importer":
        raise ConfigError(
            key,
            "the 'importer' backend was removed from TiDB Lightning in v6.0; use 'local' (physical import) "
            "or 'tidb' (logical import)",
        )
    return _parse_backend_name(value, key)


def _parse_strategy(value: Any, key: str) -> ConflictStrategy:
    if isinstance(value, str) and value.strip().lower() in ("remove", "record"):
        # Lightning still reads these old names as "replace", with a warning.
        log.warning("config key '%s': %r is no longer supported and is read as 'replace'", key, value)
        return ConflictStrategy.REPLACE
    return _parse_strategy_name(value, key)


def _read_tikv_importer(table: _Table) -> tuple[TikvImporterConfig, ConflictStrategy, ConflictStrategy]:
    backend = table.read("backend", _parse_backend, BackendKind.TIDB)
    on_duplicate = table.read("on-duplicate", _parse_strategy, ConflictStrategy.NONE)
    duplicate_resolution = table.read("duplicate-resolution", _parse_strategy, ConflictStrategy.NONE)
    parallel_import = table.read("parallel-import", _parse_bool, False)
    incremental_import = table.read("incremental-import", _parse_bool, False)  # deprecated alias
    sorted_kv_dir = table.read("sorted-kv-dir", _parse_str, "")
    region_split_size = table.read("region-split-size", parse_byte_size, 0) or DEFAULT_REGION_SPLIT_SIZE
    region_split_keys = table.read("region-split-keys", _non_negative_int, 0) or DEFAULT_REGION_SPLIT_KEYS
    disk_quota = table.read("disk-quota", parse_byte_size, MAX_INT64)
    batch_size = table.read("logical-import-batch-size", parse_byte_size, DEFAULT_LOGICAL_IMPORT_BATCH_SIZE)
    batch_rows = table.read("logical-import-batch-rows", _int, DEFAULT_LOGICAL_IMPORT_BATCH_ROWS)
    table.reject_unknown_keys()

    if batch_size <= 0:
        raise ConfigError(table.key("logical-import-batch-size"), "must be larger than 0")
    if batch_rows <= 0:
        raise ConfigError(table.key("logical-import-batch-rows"), f"got {batch_rows}, must be larger than 0")
    if backend is BackendKind.LOCAL:
        if not sorted_kv_dir:
            raise ConfigError(
                table.key("sorted-kv-dir"),
                "must be set for the local (physical) backend: a directory on a fast local disk "
                "for the sorted KV pairs",
            )
        if os.path.exists(sorted_kv_dir) and not os.path.isdir(sorted_kv_dir):
            raise ConfigError(table.key("sorted-kv-dir"), f"{sorted_kv_dir!r} exists and is not a directory")
    config = TikvImporterConfig(
        backend=backend,
        sorted_kv_dir=sorted_kv_dir,
        region_split_size=region_split_size,
        region_split_keys=region_split_keys,
        disk_quota=disk_quota,
        logical_import_batch_size=batch_size,
        logical_import_batch_rows=batch_rows,
        parallel_import=parallel_import or incremental_import,
    )
    return config, on_duplicate, duplicate_resolution


# ---- [lightning] -----------------------------------------------------------------------------------------


def _read_lightning(table: _Table, backend: BackendKind) -> LightningConfig:
    cpus = _cpu_count()
    region_concurrency = table.read("region-concurrency", _positive_int, cpus)
    table_concurrency = table.read("table-concurrency", _non_negative_int, 0)
    index_concurrency = table.read("index-concurrency", _non_negative_int, 0)
    io_concurrency = table.read("io-concurrency", _positive_int, DEFAULT_IO_CONCURRENCY)
    check_requirements = table.read("check-requirements", _parse_bool, True)
    meta_schema_name = table.read("meta-schema-name", _parse_str, "") or DEFAULT_META_SCHEMA
    task_info_schema_name = table.read("task-info-schema-name", _parse_str, DEFAULT_TASK_INFO_SCHEMA)
    lease_duration = table.read("table-lease-duration", parse_duration, DEFAULT_TABLE_LEASE_DURATION)
    lease_wait = table.read("table-lease-wait", parse_duration, 0.0)
    max_error = _read_max_error(table)
    table.reject_unknown_keys()

    if lease_duration < MIN_TABLE_LEASE_DURATION:
        raise ConfigError(
            table.key("table-lease-duration"),
            f"got {lease_duration:g}s; a lease must last at least {MIN_TABLE_LEASE_DURATION:g}s (it is renewed "
            "three times per duration)",
        )
    if backend is BackendKind.TIDB:
        table_concurrency = table_concurrency or region_concurrency
        index_concurrency = index_concurrency or region_concurrency
    else:
        table_concurrency = table_concurrency or LOCAL_TABLE_CONCURRENCY
        index_concurrency = index_concurrency or LOCAL_INDEX_CONCURRENCY
        # More encoders than CPUs only adds contention for the physical backend (Lightning caps it too).
        region_concurrency = min(region_concurrency, cpus)
    return LightningConfig(
        region_concurrency=region_concurrency,
        table_concurrency=table_concurrency,
        index_concurrency=index_concurrency,
        io_concurrency=io_concurrency,
        check_requirements=check_requirements,
        meta_schema_name=meta_schema_name,
        max_error=max_error,
        task_info_schema_name=task_info_schema_name,
        table_lease_duration=lease_duration,
        table_lease_wait=lease_wait,
    )


def _read_max_error(lightning: _Table) -> MaxError:
    if not isinstance(lightning.raw("max-error"), Mapping):
        type_errors = lightning.read("max-error", _max_error_count, 0)
        return MaxError(type=type_errors)
    table = lightning.table("max-error")
    type_errors = table.read("type", _max_error_count, 0)
    table.read("conflict", _int, 0)  # checked, then reported as ignored (LIGHTNING_KEYS)
    table.reject_unknown_keys()
    return MaxError(type=type_errors)


def _max_error_count(value: Any, key: str) -> int:
    number = _int(value, key)
    if number < 0:
        raise ConfigError(key, f"got {number}, must be 0 or more (0 stops at the first error)")
    return number


# ---- [mydumper] ------------------------------------------------------------------------------------------

# Lightning reads schema files as auto / utf8mb4 / gb18030 / binary; gbk and latin1 are ours.
_SCHEMA_CHARSETS = ("auto", "utf8mb4", "gb18030", "gbk", "latin1", "binary")
_DATA_CHARSETS = MappingProxyType(
    {
        "binary": "binary",
        "utf8": "utf8mb4",
        "utf8mb4": "utf8mb4",
        "gb18030": "gb18030",
        "gbk": "gbk",
        "latin1": "latin1",
        "ascii": "ascii",
    }
)
_SOURCE_SCHEMES = ("file", "local", "s3", "s3a")
_SOURCE_TYPES = ("schema-schema", "table-schema", "view-schema", "sql", "csv", "parquet", "ignore")
# Compressions Lightning can read (lz4 / xz / lzo it recognises but cannot open either).
_FILE_COMPRESSIONS = ("", "gz", "gzip", "zstd", "zst", "snappy")
_TEMPLATE_VARIABLE = re.compile(r"\$(?:\$|\w+|\{\w+\})")


def _read_mydumper(table: _Table) -> MydumperConfig:
    source_dir = table.read("data-source-dir", _parse_source_dir, "")
    filter_rules = table.read("filter", _parse_str_list, DEFAULT_FILTER)
    no_schema = table.read("no-schema", _parse_bool, False)
    keep_definer = table.read("keep-definer", _parse_bool, False)
    character_set = table.read("character-set", _parse_schema_charset, "auto")
    data_character_set = table.read("data-character-set", _parse_data_charset, "binary")
    invalid_char_replace = table.read("data-invalid-char-replace", _parse_str, INVALID_CHAR_REPLACEMENT)
    read_block_size = table.read("read-block-size", parse_byte_size, 0) or DEFAULT_READ_BLOCK_SIZE
    batch_size = table.read("batch-size", parse_byte_size, DEFAULT_BATCH_SIZE)
    batch_import_ratio = table.read("batch-import-ratio", _parse_ratio, DEFAULT_BATCH_IMPORT_RATIO)
    strict_format = table.read("strict-format", _parse_bool, False)
    max_region_size = table.read("max-region-size", parse_byte_size, DEFAULT_MAX_REGION_SIZE)
    default_file_rules = table.read("default-file-rules", _parse_bool, None)
    case_sensitive = table.read("case-sensitive", _parse_bool, False)
    ignore_columns = tuple(
        _read_ignore_columns(item) for item in table.array_of_tables("ignore-data-columns")
    )
    csv = _read_csv(table.table("csv"))
    files = tuple(_read_file_rule(item, source_dir) for item in table.array_of_tables("files"))
    table.reject_unknown_keys()

    if not source_dir:
        raise ConfigError(
            table.key("data-source-dir"),
            "is not set; point it at the directory (local path or s3://bucket/prefix) that holds the dump",
        )
    if strict_format and not csv.terminator:
        raise ConfigError(
            table.key("strict-format"),
            "cannot be used with an empty mydumper.csv.terminator; "
            "set the terminator, e.g. '\\n' or '\\r\\n'",
        )
    if data_character_set != "binary":  # only a conversion replaces characters
        _check_replacement_is_not_csv_syntax(
            invalid_char_replace, csv, table.key("data-invalid-char-replace")
        )
    return MydumperConfig(
        data_source_dir=source_dir,
        filter=filter_rules,
        no_schema=no_schema,
        keep_definer=keep_definer,
        character_set=character_set,
        data_character_set=data_character_set,
        data_invalid_char_replace=invalid_char_replace,
        read_block_size=read_block_size,
        batch_size=batch_size,
        batch_import_ratio=batch_import_ratio,
        strict_format=strict_format,
        max_region_size=max_region_size,
        default_file_rules=(not files) if default_file_rules is None else default_file_rules,
        case_sensitive=case_sensitive,
        ignore_data_columns=ignore_columns,
        csv=csv,
        files=files,
    )


def _check_replacement_is_not_csv_syntax(replacement: str, csv: CSVConfig, key: str) -> None:
    """A replacement character that reads as CSV syntax would split or end fields where the data had none."""
    for other, name in (
        (csv.separator, "separator"),
        (csv.delimiter, "delimiter"),
        (csv.terminator, "terminator"),
    ):
        if replacement and replacement == other:
            raise ConfigError(
                key, f"must differ from mydumper.csv.{name} ({other!r}); pick another character"
            )
    if replacement in ("\r", "\n"):
        raise ConfigError(key, "must not be a line break; pick another character")


def _parse_source_dir(value: Any, key: str) -> str:
    text = _parse_str(value, key)
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError as error:
        raise ConfigError(key, f"{text!r} is not a path or URL: {error}") from None
    if scheme and len(scheme) > 1 and scheme not in _SOURCE_SCHEMES:  # one letter: a Windows drive
        raise ConfigError(
            key,
            f"unsupported storage {scheme!r} in {text!r}; "
            "use a local path, a file:// URL or s3://bucket/prefix",
        )
    return text


def _local_source_dir(source_dir: str) -> str | None:
    """The local directory of a data-source-dir, or None for object storage."""
    parts = urlsplit(source_dir)  # already checked by _parse_source_dir
    scheme = parts.scheme.lower()
    if not scheme or len(scheme) == 1:
        return source_dir
    if scheme in ("file", "local"):
        return unquote(parts.netloc + parts.path)
    return None


_parse_schema_charset = _choice_parser(
    {name: name for name in _SCHEMA_CHARSETS}, "unsupported character set", empty="auto"
)
_parse_data_charset = _choice_parser(_DATA_CHARSETS, "unsupported character set", empty="binary")


def _parse_ratio(value: Any, key: str) -> float:
    ratio = _float(value, key)
    if not 0.0 <= ratio < 1.0:
        raise ConfigError(key, f"got {ratio}, must be at least 0 and less than 1")
    return ratio


def _read_csv(table: _Table) -> CSVConfig:
    separator = table.read("separator", _parse_str, ",")
    delimiter = table.read("delimiter", _parse_str, '"')
    terminator = table.read("terminator", _parse_str, "")
    null = table.read("null", _parse_str_list, ("\\N",))
    header = table.read("header", _parse_bool, True)
    header_schema_match = table.read("header-schema-match", _parse_bool, True)
    not_null = table.read("not-null", _parse_bool, False)
    backslash_escape = table.read("backslash-escape", _parse_bool, True)
    escaped_by = table.read("escaped-by", _parse_str, "\\")
    trim_last_separator = table.read("trim-last-separator", _parse_bool, False)
    table.reject_unknown_keys()

    if not separator:
        raise ConfigError(table.key("separator"), "must not be empty; the usual value is ','")
    if delimiter and (separator.startswith(delimiter) or delimiter.startswith(separator)):
        raise ConfigError(
            table.key("delimiter"),
            f"{delimiter!r} and the separator {separator!r} must not be prefixes of each other",
        )
    if len(escaped_by.encode("utf-8")) > 1:
        raise ConfigError(
            table.key("escaped-by"), f"must be empty or a single ASCII character, got {escaped_by!r}"
        )
    # escaped-by supersedes the deprecated backslash-escape, except that backslash-escape = false turns off
    # the default backslash.
    if backslash_escape and not escaped_by:
        escaped_by = "\\"
    if not backslash_escape and escaped_by == "\\":
        escaped_by = ""
    if not not_null and not null:
        null = ("",)  # Lightning's old behaviour: an empty field is NULL
    if escaped_by:
        for other, name in ((separator, "separator"), (delimiter, "delimiter"), (terminator, "terminator")):
            if other == escaped_by:
                raise ConfigError(
                    table.key("escaped-by"), f"{escaped_by!r} is also the CSV {name}; use another character"
                )
    return CSVConfig(
        separator=separator,
        delimiter=delimiter,
        terminator=terminator,
        null=null,
        header=header,
        header_schema_match=header_schema_match,
        not_null=not_null,
        backslash_escape=backslash_escape,
        escaped_by=escaped_by,
        trim_last_separator=trim_last_separator,
    )


def _read_file_rule(table: _Table, source_dir: str) -> FileRouteRule:
    pattern = table.read("pattern", _parse_str, "")
    path = table.read("path", _parse_str, "")
    schema = table.read("schema", _parse_str, "")
    name = table.read("table", _parse_str, "")
    source_type = table.read("type", _parse_str, "")
    sort_key = table.read("key", _parse_str, "")
    compression = table.read("compression", _parse_str, "")
    table.reject_unknown_keys()

    if not pattern and not path:
        raise ConfigError(table.path, "set either 'pattern' (a regular expression) or 'path' (one file)")
    if pattern and path:
        raise ConfigError(table.key("path"), "cannot be set together with 'pattern'; keep one of them")
    compiled: re.Pattern[str] | None = None
    if pattern:
        try:
            compiled = compile_go_regexp(pattern)
        except (re.error, ValueError) as error:
            raise ConfigError(table.key("pattern"), f"is not a valid regular expression: {error}") from None
    else:
        path = _relative_rule_path(path, source_dir, table.key("path"))

    def literal_or_template(value: str, field_name: str) -> tuple[str, bool]:
        """(value, is_template): templates are checked against the pattern's groups, literals normalised."""
        if compiled is not None and "$" in value:
            _check_template(value, compiled, table.key(field_name))
            return value, True
        return value.strip().lower(), False

    source_type, type_is_template = literal_or_template(source_type, "type")
    if not source_type:
        raise ConfigError(
            table.key("type"), f"must be set; allowed: {_allowed(_SOURCE_TYPES)} or a $-template"
        )
    if not type_is_template and source_type not in _SOURCE_TYPES:
        raise ConfigError(
            table.key("type"), f"unknown file type {source_type!r}; allowed: {_allowed(_SOURCE_TYPES)}"
        )
    if source_type != "ignore":
        if not schema:
            raise ConfigError(table.key("schema"), "must be set: the database the matched files belong to")
        if compiled is not None and "$" in schema:
            _check_template(schema, compiled, table.key("schema"))
        if source_type != "schema-schema":
            if not name:
                raise ConfigError(table.key("table"), "must be set: the table the matched files belong to")
            if compiled is not None and "$" in name:
                _check_template(name, compiled, table.key("table"))
        if compiled is not None and "$" in sort_key:
            _check_template(sort_key, compiled, table.key("key"))
        compression, compression_is_template = literal_or_template(compression, "compression")
        if not compression_is_template:
            if compression not in _FILE_COMPRESSIONS:
                raise ConfigError(
                    table.key("compression"),
                    f"unsupported compression {compression!r}; allowed: {_allowed(_FILE_COMPRESSIONS)}",
                )
            if compression and source_type == "parquet":
                raise ConfigError(
                    table.key("compression"),
                    "a whole-file compressed Parquet file cannot be read; compress inside Parquet instead",
                )
    return FileRouteRule(
        pattern=pattern or None,
        path=path or None,
        schema=schema,
        table=name,
        type=source_type,
        key=sort_key,
        compression=compression,
    )


def _relative_rule_path(path: str, source_dir: str, key: str) -> str:
    path = path.replace("\\", "/")
    if not (path.startswith("/") or os.path.isabs(path)):
        return path
    local_dir = _local_source_dir(source_dir) if source_dir else None
    if local_dir is None:
        raise ConfigError(
            key, f"{path!r} is absolute; with data-source-dir {source_dir!r} write it relative to that"
        )
    relative = os.path.relpath(path, local_dir).replace(os.sep, "/")
    if relative == ".." or relative.startswith("../"):
        raise ConfigError(key, f"{path!r} is not inside mydumper.data-source-dir {local_dir!r}")
    return relative


def _check_template(template: str, pattern: re.Pattern[str], key: str) -> None:
    """Each $n / ${name} of a Go regexp template must name a group of the rule's pattern, as in Lightning."""
    for variable in _TEMPLATE_VARIABLE.findall(template):
        if variable == "$$":
            continue
        name = variable[2:-1] if variable.startswith("${") else variable[1:]
        if name.isascii() and name.isdigit():
            if int(name) > pattern.groups:
                raise ConfigError(
                    key,
                    f"{variable} refers to a capture group the pattern does not have "
                    f"(it has {pattern.groups})",
                )
        elif name not in pattern.groupindex:
            raise ConfigError(
                key, f"{variable} refers to a group named {name!r}, which the pattern does not define"
            )


def _read_ignore_columns(table: _Table) -> IgnoreColumns:
    db = table.read("db", _parse_str, "")
    name = table.read("table", _parse_str, "")
    table_filter = table.read("table-filter", _parse_str_list, ())
    columns = table.read("columns", _parse_str_list, ())
    table.reject_unknown_keys()
    if not table_filter and not (db and name):
        raise ConfigError(
            table.path, "set 'db' and 'table', or 'table-filter', to say which tables it applies to"
        )
    return IgnoreColumns(
        db=db, table=name, table_filter=table_filter, columns=tuple(column.lower() for column in columns)
    )


# ---- [post-restore] --------------------------------------------------------------------------------------

_OP_LEVELS = MappingProxyType(
    {
        "off": PostOpLevel.OFF,
        "false": PostOpLevel.OFF,
        "optional": PostOpLevel.OPTIONAL,
        "required": PostOpLevel.REQUIRED,
        "true": PostOpLevel.REQUIRED,
    }
)


_parse_op_level = _choice_parser(
    _OP_LEVELS, "invalid level", shown=("off", "optional", "required"), booleans=True
)


def _read_post_restore(table: _Table) -> PostRestoreConfig:
    config = PostRestoreConfig(
        checksum=table.read("checksum", _parse_op_level, PostOpLevel.REQUIRED),
        analyze=table.read("analyze", _parse_op_level, PostOpLevel.OPTIONAL),
        post_process_at_last=table.read("post-process-at-last", _parse_bool, True),
    )
    table.reject_unknown_keys()
    return config


# ---- [security], [tidb] ----------------------------------------------------------------------------------

_TLS_MODES = ("", "false", "cluster", "skip-verify", "preferred")
# Names TiDB's parser accepts (parser/mysql Str2SQLMode) plus the MySQL 8 and MariaDB additions, so a
# sql-mode copied from any of the three targets loads.
_SQL_MODES = frozenset(
    {
        "REAL_AS_FLOAT", "PIPES_AS_CONCAT", "ANSI_QUOTES", "IGNORE_SPACE", "NOT_USED", "ONLY_FULL_GROUP_BY",
        "NO_UNSIGNED_SUBTRACTION", "NO_DIR_IN_CREATE", "POSTGRESQL", "ORACLE", "MSSQL", "DB2", "MAXDB",
        "NO_KEY_OPTIONS", "NO_TABLE_OPTIONS", "NO_FIELD_OPTIONS", "MYSQL323", "MYSQL40", "ANSI",
        "NO_AUTO_VALUE_ON_ZERO", "NO_BACKSLASH_ESCAPES", "STRICT_TRANS_TABLES", "STRICT_ALL_TABLES",
        "NO_ZERO_IN_DATE", "NO_ZERO_DATE", "INVALID_DATES", "ERROR_FOR_DIVISION_BY_ZERO", "TRADITIONAL",
        "NO_AUTO_CREATE_USER", "HIGH_NOT_PRECEDENCE", "NO_ENGINE_SUBSTITUTION", "PAD_CHAR_TO_FULL_LENGTH",
        "ALLOW_INVALID_DATES",
        "TIME_TRUNCATE_FRACTIONAL",  # MySQL 8
        "EMPTY_STRING_IS_NULL", "SIMULTANEOUS_ASSIGNMENT", "TIME_ROUND_FRACTIONAL",  # MariaDB
    }
)  # fmt: skip
_SESSION_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _read_security(table: _Table, defaults: SecurityConfig) -> SecurityConfig:
    config = SecurityConfig(
        ca_path=table.read("ca-path", _parse_str, defaults.ca_path),
        cert_path=table.read("cert-path", _parse_str, defaults.cert_path),
        key_path=table.read("key-path", _parse_str, defaults.key_path),
        redact_info_log=table.read("redact-info-log", _parse_bool, defaults.redact_info_log),
    )
    table.reject_unknown_keys()
    # The paths are used (core/tls.py); log redaction follows its own rules, so this key is not.
    if table.given("redact-info-log") and config.redact_info_log != defaults.redact_info_log:
        table.report_ignored("redact-info-log")
    return config


def _read_tidb(table: _Table, security: SecurityConfig) -> TiDBConfig:
    host = table.read("host", _parse_str, "127.0.0.1")
    port = table.read("port", _int, 4000)
    user = table.read("user", _parse_str, "root")
    password = table.read("password", _parse_secret, "")
    sql_mode = table.read("sql-mode", _parse_sql_mode, DEFAULT_SQL_MODE)
    session_vars = table.read("session-vars", _parse_session_vars, SessionVariables())
    max_allowed_packet = table.read("max-allowed-packet", parse_byte_size, DEFAULT_MAX_ALLOWED_PACKET)
    tls = table.read("tls", _parse_tls, "")
    pd_addr = table.read("pd-addr", _parse_str, "")
    tidb_security = _read_security(table.table("security"), security) if table.given("security") else security
    table.reject_unknown_keys()

    if not host:
        raise ConfigError(table.key("host"), "must not be empty")
    if not 0 < port < 65536:
        raise ConfigError(table.key("port"), f"got {port}, must be a TCP port between 1 and 65535")
    if tls == "" and not tidb_security.ca_path and (tidb_security.cert_path or tidb_security.key_path):
        # As in Lightning, only a CA turns TLS on by itself; say so rather than let a client certificate
        # suggest an encrypted connection.
        log.warning(
            "config key '%s': a client certificate is set but no CA, so the target connection is plaintext; "
            'set tidb.tls = "skip-verify" (or a CA in security.ca-path) to use TLS', table.key("tls")
        )
    if tls == "cluster" and not tidb_security.ca_path:
        raise ConfigError(
            table.key("tls"), "'cluster' needs a CA: set security.ca-path (or tidb.security.ca-path)"
        )
    if tls == "false":
        tidb_security = SecurityConfig(redact_info_log=tidb_security.redact_info_log)
    return TiDBConfig(
        host=host,
        port=port,
        user=user,
        password=password,
        sql_mode=sql_mode,
        session_vars=session_vars,
        max_allowed_packet=max_allowed_packet,
        tls=tls,
        pd_addr=pd_addr,
        security=tidb_security,
    )


def _parse_secret(value: Any, key: str) -> str:
    if not isinstance(value, str):
        # Never echo what might be a password.
        raise ConfigError(key, f"expected a string, got a value of type {type(value).__name__}")
    return value


_parse_tls = _choice_parser({mode: mode for mode in _TLS_MODES}, "unsupported TLS mode")


def _parse_sql_mode(value: Any, key: str) -> str:
    text = _parse_str(value, key)
    modes = [part.strip().upper() for part in text.split(",") if part.strip()]
    for mode in modes:
        if mode not in _SQL_MODES:
            close = difflib.get_close_matches(mode, sorted(_SQL_MODES), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(key, f"{mode!r} is not an SQL mode{hint}")
    return ",".join(modes)


def _parse_session_vars(value: Any, key: str) -> SessionVariables:
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"expected a table of variable = value, got {_show(value)}")
    variables: dict[str, str] = {}
    for name, setting in value.items():
        name = str(name)
        where = f"{key}.{name}"
        if not _SESSION_VARIABLE.fullmatch(name):
            raise ConfigError(where, "is not a system variable name (letters, digits and '_')")
        if isinstance(setting, bool) or not isinstance(setting, (str, int, float)):
            raise ConfigError(where, f"expected a string or a number, got {_show(setting)}")
        variables[name] = str(setting)
    return SessionVariables(variables)


# ---- [checkpoint] ----------------------------------------------------------------------------------------

_KEEP_STRATEGIES = MappingProxyType(
    {
        "remove": KeepAfterSuccess.REMOVE,
        "false": KeepAfterSuccess.REMOVE,
        "rename": KeepAfterSuccess.RENAME,
        "true": KeepAfterSuccess.RENAME,
        "origin": KeepAfterSuccess.ORIGIN,
    }
)


_parse_keep_after_success = _choice_parser(
    _KEEP_STRATEGIES, "invalid value", shown=("remove", "rename", "origin"), booleans=True
)
_parse_checkpoint_driver = _choice_parser(
    {driver: driver for driver in CHECKPOINT_DRIVERS}, "unknown checkpoint driver", empty="file"
)


def _read_checkpoint(table: _Table) -> CheckpointConfig:
    enable = table.read("enable", _parse_bool, True)
    schema = table.read("schema", _parse_str, "") or DEFAULT_CHECKPOINT_SCHEMA
    driver = table.read("driver", _parse_checkpoint_driver, "file")
    dsn = table.read("dsn", _parse_secret, "")
    keep = table.read("keep-after-success", _parse_keep_after_success, KeepAfterSuccess.REMOVE)
    table.reject_unknown_keys()
    return CheckpointConfig(enable=enable, schema=schema, driver=driver, dsn=dsn, keep_after_success=keep)


# ---- [[routes]] ------------------------------------------------------------------------------------------


def _read_routes(tables: Iterable[_Table]) -> tuple[RouteRule, ...]:
    rules = []
    for table in tables:
        schema_pattern = table.read("schema-pattern", _parse_str, "")
        table_pattern = table.read("table-pattern", _parse_str, "")
        target_schema = table.read("target-schema", _parse_str, "")
        target_table = table.read("target-table", _parse_str, "")
        table.reject_unknown_keys()  # refuses extract-table / -schema / -source (LIGHTNING_KEYS)
        if not schema_pattern:
            raise ConfigError(table.key("schema-pattern"), "must not be empty")
        if not target_schema:
            raise ConfigError(table.key("target-schema"), "must not be empty")
        # Case folding is the table router's job (it also knows `~regex` patterns, which must not be folded).
        rules.append(RouteRule(schema_pattern, table_pattern, target_schema, target_table))
    return tuple(rules)


# ---- [conflict] ------------------------------------------------------------------------------------------


def _read_conflict(
    table: _Table,
    tikv_importer: TikvImporterConfig,
    on_duplicate: ConflictStrategy,
    duplicate_resolution: ConflictStrategy,
) -> ConflictConfig:
    strategy = table.read("strategy", _parse_strategy, ConflictStrategy.NONE)
    precheck = table.read("precheck-conflict-before-import", _parse_bool, False)
    threshold = table.read("threshold", _threshold, -1)
    max_record_rows = table.read("max-record-rows", _threshold, -1)
    table.reject_unknown_keys()
    backend = tikv_importer.backend

    # As Lightning's Conflict.adjust: deprecated on-duplicate / duplicate-resolution fill an empty strategy.
    strategy_key = table.key("strategy")
    from_duplicate_resolution = False
    if strategy is ConflictStrategy.NONE:
        if on_duplicate is not ConflictStrategy.NONE:
            strategy, strategy_key = on_duplicate, "tikv-importer.on-duplicate"
        elif backend is BackendKind.TIDB and duplicate_resolution is ConflictStrategy.NONE:
            strategy = ConflictStrategy.ERROR
    if strategy is ConflictStrategy.NONE and duplicate_resolution is not ConflictStrategy.NONE:
        strategy, from_duplicate_resolution = duplicate_resolution, True
    if (
        not from_duplicate_resolution
        and strategy is not ConflictStrategy.NONE
        and duplicate_resolution is not ConflictStrategy.NONE
    ):
        raise ConfigError(
            "tikv-importer.duplicate-resolution",
            f"cannot be used together with {strategy_key}; keep only conflict.strategy",
        )
    if strategy is ConflictStrategy.IGNORE and backend is BackendKind.LOCAL:
        raise ConfigError(strategy_key, "cannot be 'ignore' with the local backend; use 'replace' or 'error'")
    if precheck:
        if backend is BackendKind.TIDB:
            raise _refused(table.key("precheck-conflict-before-import"))
        table.report_ignored("precheck-conflict-before-import")

    if threshold < 0:
        replacing = strategy in (ConflictStrategy.REPLACE, ConflictStrategy.IGNORE)
        threshold = DEFAULT_CONFLICT_THRESHOLD if replacing else 0
    if threshold > 0 and strategy is ConflictStrategy.ERROR:
        raise ConfigError(
            table.key("threshold"),
            "cannot be set when conflict.strategy is 'error' (the first conflict stops the import); "
            "use strategy 'replace' or 'ignore' to tolerate conflicts",
        )
    # As Lightning, max-record-rows follows the threshold whatever was written (see the module docstring for
    # "replace" with the tidb backend, where Lightning records nothing).
    if max_record_rows >= 0 and max_record_rows != threshold:
        table.report_ignored("max-record-rows")
    return ConflictConfig(
        strategy=strategy,
        precheck_conflict_before_import=precheck,
        threshold=threshold,
        max_record_rows=threshold,
    )


def _threshold(value: Any, key: str) -> int:
    number = _int(value, key)
    if number < -1:
        raise ConfigError(key, f"got {number}; use 0 or more, or -1 for the default")
    return number


# ---- [black-white-list] ----------------------------------------------------------------------------------


def _read_black_white_list(table: _Table, mydumper: MydumperConfig) -> BlackWhiteList:
    def table_names(name: str) -> tuple[TableName, ...]:
        names = []
        for item in table.array_of_tables(name):
            db_name = item.read("db-name", _parse_str, "")
            tbl_name = item.read("tbl-name", _parse_str, "")
            item.reject_unknown_keys()
            for key, value in (("db-name", db_name), ("tbl-name", tbl_name)):
                if not value:
                    raise ConfigError(
                        item.key(key), "must not be empty: a name, a wildcard, or ~ and a regexp"
                    )
            names.append(TableName(db_name, tbl_name))
        return tuple(names)

    rules = BlackWhiteList(
        do_dbs=table.read("do-dbs", _parse_str_list, ()),
        ignore_dbs=table.read("ignore-dbs", _parse_str_list, ()),
        do_tables=table_names("do-tables"),
        ignore_tables=table_names("ignore-tables"),
    )
    table.reject_unknown_keys()
    for name in ("do-dbs", "ignore-dbs"):
        for index, pattern in enumerate(getattr(rules, name.replace("-", "_"))):
            if not pattern:
                raise ConfigError(f"{table.key(name)}[{index}]", "must not be empty")
    # As Lightning: the two ways of choosing tables cannot be combined.
    if rules.given and mydumper.filter != DEFAULT_FILTER:
        raise ConfigError(
            "black-white-list",
            "cannot be combined with mydumper.filter (as in Lightning); move the rules into mydumper.filter "
            "or leave mydumper.filter out",
        )
    return rules


# ---- [cron] ----------------------------------------------------------------------------------------------


def _read_cron(table: _Table) -> CronConfig:
    defaults = CronConfig()
    config = CronConfig(
        switch_mode=table.read("switch-mode", parse_duration, defaults.switch_mode),
        log_progress=table.read("log-progress", parse_duration, defaults.log_progress),
        check_disk_quota=table.read("check-disk-quota", parse_duration, defaults.check_disk_quota),
    )
    table.reject_unknown_keys()
    # Lightning's periodic TiKV mode switching and disk-quota checks have no counterpart here yet.
    for name, value, default in (
        ("switch-mode", config.switch_mode, defaults.switch_mode),
        ("log-progress", config.log_progress, defaults.log_progress),
        ("check-disk-quota", config.check_disk_quota, defaults.check_disk_quota),
    ):
        if table.given(name) and value != default:
            table.report_ignored(name)
    return config


# ---------------------------------------------------------------------------------------------------------
# Scalar parsers: each takes the raw value and the key's full path, and raises ConfigError naming it.

_BYTE_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)*) ?([kmgtp])?i?b?", re.IGNORECASE)
_BINARY_MULTIPLES = MappingProxyType(
    {"": 1, "k": KIB, "m": MIB, "g": GIB, "t": 1024 * GIB, "p": 1024**2 * GIB}
)
_DURATION = re.compile(r"(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+")
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_NANOSECONDS = MappingProxyType(
    {
        "ns": 1,
        "us": 10**3,
        "µs": 10**3,
        "μs": 10**3,
        "ms": 10**6,
        "s": 10**9,
        "m": 60 * 10**9,
        "h": 3600 * 10**9,
    }
)
# Longer strings are no sizes or durations anyone writes, and must not cost time to reject.
_MAX_NUMBER_TEXT = 64


def parse_byte_size(value: int | str, key: str) -> int:
    """A byte count from an integer or a string like ``'512'``, ``'64KiB'``, ``'96MiB'``, ``'1GB'``.

    As Lightning (go-units ``RAMInBytes``): the units K, M, G, T, P are binary multiples with or without
    ``i`` and ``B``, in any case, optionally after one space; a fraction is allowed and truncated
    (``'1.5K'`` is 1536). Raises :class:`ConfigError` naming ``key`` for anything else, for a negative number
    and for more than 2**63-1 bytes.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(key, f"expected a byte size such as 512, '64KiB' or '1GB', got {_show(value)}")
    if isinstance(value, int):
        size = value
    else:
        match = _BYTE_SIZE.fullmatch(value) if len(value) <= _MAX_NUMBER_TEXT else None
        if match is None:
            raise ConfigError(
                key,
                f"{_show(value)} is not a byte size; write a number with an optional unit K, M, G, T or P "
                "(binary multiples), e.g. 512, '64KiB', '96MiB', '1GB'",
            )
        number, unit = match.group(1), (match.group(2) or "").lower()
        try:
            with localcontext() as context:
                context.prec = 2 * _MAX_NUMBER_TEXT
                size = int(Decimal(number) * _BINARY_MULTIPLES[unit])
        except InvalidOperation:  # "1.2.3" passes the pattern, as in go-units, but is no number
            raise ConfigError(key, f"{_show(value)} is not a byte size: {number!r} is not a number") from None
    if size < 0:
        raise ConfigError(key, f"got {size}, a byte size cannot be negative")
    if size > MAX_INT64:
        raise ConfigError(key, f"{_show(value)} is too large; the largest byte size is {MAX_INT64}")
    return size


def parse_duration(value: float | str, key: str) -> float:
    """Seconds from a Go duration string (``'5m'``, ``'1h30m'``, ``'1.5s'``, ``'300ms'``) or a number.

    Negative durations and ones over Go's limit (2**63-1 ns) raise :class:`ConfigError` naming ``key``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(key, f"expected a duration such as '5m' or '1h30m', got {_show(value)}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(key, f"got {value}, a duration must be a finite number of seconds, 0 or more")
        nanoseconds = round(Fraction(value) * 10**9)
    else:
        text = value.strip()
        if text.startswith("-") and text not in ("-0",):
            raise ConfigError(key, f"{_show(value)} is negative; a duration must be 0 or more")
        text = text.lstrip("+-")
        if text == "0":
            nanoseconds = 0
        elif len(text) <= _MAX_NUMBER_TEXT and _DURATION.fullmatch(text):
            nanoseconds = sum(
                int(Fraction(number) * _NANOSECONDS[unit]) for number, unit in _DURATION_PART.findall(text)
            )
        else:
            raise ConfigError(
                key,
                f"{_show(value)} is not a duration; write a number and a unit (h, m, s, ms, us, ns), "
                "e.g. '5m', '1h30m', '1.5s'",
            )
    if nanoseconds > MAX_INT64:
        raise ConfigError(key, f"{_show(value)} is too long; the longest duration is about 292 years")
    return nanoseconds / 10**9


def _format_duration(seconds: float) -> str:
    """A Go duration string that :func:`parse_duration` reads back as exactly ``seconds``."""
    nanoseconds = round(Fraction(seconds) * 10**9)
    if nanoseconds == 0:
        return "0s"
    hours, rest = divmod(nanoseconds, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = f"{hours}h" if hours else ""
    text += f"{minutes}m" if minutes else ""
    if rest:
        whole, fraction = divmod(rest, 10**9)
        text += f"{whole}.{fraction:09d}".rstrip("0").rstrip(".") + "s"
    return text


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,19}")


def _int(value: Any, key: str, *, what: str = "an integer") -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    raise ConfigError(key, f"expected {what}, got {_show(value)}")


def _positive_int(value: Any, key: str) -> int:
    number = _int(value, key)
    if number < 1:
        raise ConfigError(key, f"got {number}, must be 1 or more")
    return number


def _non_negative_int(value: Any, key: str) -> int:
    number = _int(value, key)
    if number < 0:
        raise ConfigError(key, f"got {number}, must be 0 or more (0 picks the default)")
    return number


def _float(value: Any, key: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and len(value) <= _MAX_NUMBER_TEXT:
        try:
            number = float(value.strip())
        except ValueError:
            raise ConfigError(key, f"expected a number, got {_show(value)}") from None
    else:
        raise ConfigError(key, f"expected a number, got {_show(value)}")
    if not math.isfinite(number):
        raise ConfigError(key, f"expected a finite number, got {_show(value)}")
    return number


def _parse_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(key, f"expected true or false, got {_show(value)}")


def _parse_str(value: Any, key: str) -> str:
    if isinstance(value, str):
        return value
    raise ConfigError(key, f"expected a string, got {_show(value)}")


def _parse_str_list(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)):
        raise ConfigError(key, f"expected an array of strings, got {_show(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(f"{key}[{index}]", f"expected a string, got {_show(item)}")
    return tuple(value)


def _show(value: Any, limit: int = 60) -> str:
    """A short rendering of a user's value for an error message."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
