"""Finding what a data source holds: its databases, tables, views and their files.

:func:`discover` lists every file of a :class:`~airflow_provider_lightning.core.storage.Storage`, routes each
one to a table (:class:`~.router.FileRouter`), drops what ``mydumper.filter`` excludes
(:class:`~.table_filter.TableFilter`), renames by ``[[routes]]`` (:class:`~.table_router.TableRouter`) and
returns a :class:`DataSource`: a sorted, immutable description that later steps (schema restore, chunking,
checkpoints) work from. It reads no file contents.

Like Lightning's ``MDLoader`` (``pkg/lightning/mydump/loader.go``), with these choices:

- a table's data files are kept even without a schema file (the target may already have the table);
- mydumper and Dumpling write a placeholder ``db.v-schema.sql`` (a ``CREATE TABLE``) next to each view's
  ``db.v-schema-view.sql``: the view wins and no table is made for it;
- several schema files for one target (shards merged by routes, copies in two directories): the first by
  path is used and a warning says which files were passed over;
- a target database without a ``-schema-create.sql`` of its own takes the one of a source database whose
  tables were routed into it (as Lightning does, to keep its character set); the file's
  ``source_schema`` then differs from the database's name;
- ``metadata`` files (written by mydumper and Dumpling) are listed as ignored rather than unmatched;
- trigger, routine and event files (mydumper's ``-G -R -E``) are listed as :class:`SchemaObjectsFile`:
  not imported, but named by the precheck so that nobody loses them unawares.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_lightning.core.errors import ConfigError, SourceError
from airflow_provider_lightning.core.mydump.router import (
    FileRouter,
    FileRouteRule,
    RouteResult,
    SourceType,
    printable_path,
    schema_objects_contents,
)
from airflow_provider_lightning.core.mydump.table_filter import (
    DEFAULT_FILTER,
    BlackWhiteListFilter,
    TableFilter,
)
from airflow_provider_lightning.core.mydump.table_router import RouteRuleLike, TableRouter
from airflow_provider_lightning.core.storage import Compression, FileInfo, Storage

log = logging.getLogger(__name__)

# How many passed-over files a warning names before it just counts them.
_WARNING_FILE_LIMIT = 3


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file of the data source, with where it goes.

    ``path`` is relative to the source root; ``sort_key`` orders a table's data files (row ids are
    allocated in that order); ``source_schema`` / ``source_table`` are the names the file carries before
    ``[[routes]]`` (``source_table`` is empty for a database schema file).
    """

    path: str
    size: int
    version: str
    type: SourceType
    compression: Compression
    sort_key: str
    source_schema: str
    source_table: str


@dataclass(frozen=True, slots=True)
class TableSource:
    """A target table: its schema file (if the dump has one) and its data files in import order."""

    schema: str
    name: str
    schema_file: SourceFile | None
    data_files: tuple[SourceFile, ...]
    source_names: tuple[tuple[str, str], ...]

    @property
    def total_size(self) -> int:
        """Stored bytes of all data files (compressed size for compressed files)."""
        return sum(f.size for f in self.data_files)

    def fingerprint(self) -> str:
        """A hex digest of this table's files (path, size, version, type); changes when any of them do."""
        files = ([self.schema_file] if self.schema_file else []) + list(self.data_files)
        return fingerprint_files(files)


@dataclass(frozen=True, slots=True)
class ViewSource:
    schema: str
    name: str
    schema_file: SourceFile


@dataclass(frozen=True, slots=True)
class SchemaObjectsFile:
    """A file of triggers, stored routines or events (``schema-objects``), which the import skips.

    ``schema`` / ``table`` are the target names after ``[[routes]]`` (``table`` is empty for a database's
    file); ``contents`` says what it holds ("the triggers of table `db`.`t`").
    """

    file: SourceFile
    schema: str
    table: str
    contents: str


@dataclass(frozen=True, slots=True)
class DatabaseSource:
    name: str
    schema_file: SourceFile | None
    tables: tuple[TableSource, ...]
    views: tuple[ViewSource, ...]


@dataclass(frozen=True, slots=True)
class DataSource:
    """Everything :func:`discover` found.

    ``unmatched``: paths no file rule matched; ``ignored``: paths a rule marks ``ignore`` (and
    ``metadata`` files); ``schema_objects``: trigger, routine and event files, skipped by the import and
    listed by the precheck (sorted by path); ``warnings``: things a person should know, one sentence each.
    They are not part of :attr:`files` nor of the fingerprint: the import does not read them.
    """

    url: str
    databases: tuple[DatabaseSource, ...]
    unmatched: tuple[str, ...]
    ignored: tuple[str, ...]
    warnings: tuple[str, ...]
    schema_objects: tuple[SchemaObjectsFile, ...] = ()

    @property
    def tables(self) -> tuple[TableSource, ...]:
        """Every table, sorted by (schema, name)."""
        tables = (t for db in self.databases for t in db.tables)
        return tuple(sorted(tables, key=lambda t: (t.schema, t.name)))

    @property
    def views(self) -> tuple[ViewSource, ...]:
        """Every view, sorted by (schema, name)."""
        views = (v for db in self.databases for v in db.views)
        return tuple(sorted(views, key=lambda v: (v.schema, v.name)))

    @property
    def files(self) -> tuple[SourceFile, ...]:
        """Every file the import reads (schema, view and data files), once each, sorted by path."""
        found: dict[str, SourceFile] = {}
        for db in self.databases:
            if db.schema_file:
                found[db.schema_file.path] = db.schema_file
            for table in db.tables:
                if table.schema_file:
                    found[table.schema_file.path] = table.schema_file
                found.update((f.path, f) for f in table.data_files)
            found.update((v.schema_file.path, v.schema_file) for v in db.views)
        return tuple(found[path] for path in sorted(found))

    def fingerprint(self) -> str:
        """A hex digest of every file the import reads: (path, size, version, type) of each.

        Checkpoints are tied to it, so that new, removed or changed input is never silently skipped.
        """
        return fingerprint_files(self.files)


def fingerprint_files(files: Iterable[SourceFile]) -> str:
    """A stable SHA-256 hex digest of the files' (path, size, version, type), in path order."""
    rows = sorted([f.path, f.size, f.version, int(f.type)] for f in files)
    encoded = json.dumps(rows, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return hashlib.sha256(encoded).hexdigest()


def discover(
    storage: Storage,
    *,
    file_rules: Iterable[FileRouteRule] = (),
    default_file_rules: bool = True,
    filter: Iterable[str] = DEFAULT_FILTER,  # noqa: A002 - the config key's name
    routes: Iterable[RouteRuleLike] = (),
    case_sensitive: bool = False,
    black_white_list: Any = None,
) -> DataSource:
    """List the data source and describe its databases, tables and views.

    :param storage: the data source.
    :param file_rules: ``[[mydumper.files]]`` rules (``config.mydumper.files``), tried first.
    :param default_file_rules: also apply Lightning's mydumper/Dumpling naming rules.
    :param filter: ``mydumper.filter`` rules; tables they exclude are left out.
    :param routes: ``[[routes]]`` rules (``config.routes``).
    :param case_sensitive: ``mydumper.case-sensitive``: compare names in filters and routes exactly.
    :param black_white_list: the deprecated ``[black-white-list]`` (``config.black_white_list``); when it
        has rules it replaces ``filter``, as in Lightning.
    :raises ConfigError: a rule is invalid, or ``[[routes]]`` is combined with ``[[mydumper.files]]``.
    :raises SourceError: the source cannot be listed, or a file cannot be imported as named (unreadable
        compression, empty or non-UTF-8 name, a data file for a view).
    """
    file_rules, routes = tuple(file_rules), tuple(routes)
    if file_rules and routes:
        raise ConfigError(
            "routes",
            "cannot be combined with [[mydumper.files]] (as in Lightning): give the target schema and "
            "table directly in the [[mydumper.files]] rules instead",
        )
    router = FileRouter(file_rules, default_rules=default_file_rules, source_root=storage.url)
    table_filter: TableFilter | BlackWhiteListFilter
    if black_white_list is not None and black_white_list.given:
        table_filter = BlackWhiteListFilter(black_white_list, case_sensitive=case_sensitive)
    else:
        table_filter = TableFilter(filter, case_sensitive=case_sensitive)
    table_router = TableRouter(routes, case_sensitive=case_sensitive)

    found = _Found()
    excluded = 0
    for info in storage.walk():
        route = router.route(info.path)
        if info.broken_link and not _needed(route, table_filter):
            # Not imported anyway: a warning, and the import goes on without it.
            found.warnings.append(
                f"{printable_path(info.path)} is {info.broken_link}; it is not imported (it is no data or "
                "schema file of an imported table): remove the link, or restore its target if it was meant "
                "to be read"
            )
            continue
        if info.broken_link:
            raise SourceError(
                printable_path(info.path),
                f"{info.broken_link}, and this file is needed: it is the "
                f"{_FILE_KINDS.get(route.type, 'data file')} of {_quoted(route.schema, route.table)}. "
                "Restore the link's target (or point the link at the file), or leave the table out with "
                "a filter (-f / mydumper.filter)",
            )
        if route is None:
            if posixpath.basename(info.path) == "metadata":
                found.ignored.append(info.path)
            else:
                found.unmatched.append(info.path)
            continue
        if route.type == SourceType.IGNORE:
            found.ignored.append(info.path)
            continue
        database_wide = route.type == SourceType.SCHEMA_OBJECTS and not route.table
        if route.type == SourceType.SCHEMA_SCHEMA or database_wide:
            included = table_filter.matches_schema(route.schema)
        else:
            included = table_filter.matches(route.schema, route.table)
        if not included:
            excluded += 1
            continue
        _check_names(info.path, route)
        if route.type == SourceType.SCHEMA_OBJECTS:
            found.add_schema_objects(_source_file(info, route), table_router)  # not read: any compression
            continue
        if not route.compression.readable:
            raise SourceError(
                printable_path(info.path),
                f"{route.compression.name.lower()} compression cannot be read; the supported compressions "
                "are gzip (.gz), zstd (.zst) and snappy (.snappy): recompress the file with one of them",
            )
        found.add(_source_file(info, route), table_router)

    source = found.build(storage.url)
    log.info(
        "data source %s: %d databases, %d tables, %d views; %d files excluded by the filter, %d ignored, "
        "%d matched no rule, %d trigger/routine/event files not imported",
        storage.url,
        len(source.databases),
        len(source.tables),
        len(source.views),
        excluded,
        len(source.ignored),
        len(source.unmatched),
        len(source.schema_objects),
    )
    for warning in source.warnings:
        log.warning("%s", warning)
    return source


_FILE_KINDS = {
    SourceType.SCHEMA_SCHEMA: "database schema file",
    SourceType.TABLE_SCHEMA: "table schema file",
    SourceType.VIEW_SCHEMA: "view schema file",
}


def _needed(route: RouteResult | None, table_filter: TableFilter) -> bool:
    """Whether the import reads the file this route describes (as the walk below decides)."""
    if route is None or route.type in (SourceType.IGNORE, SourceType.SCHEMA_OBJECTS):
        return False
    if route.type == SourceType.SCHEMA_SCHEMA:
        return table_filter.matches_schema(route.schema)
    return table_filter.matches(route.schema, route.table)


def _source_file(info: FileInfo, route: RouteResult) -> SourceFile:
    return SourceFile(
        path=info.path,
        size=info.size,
        version=info.version,
        type=route.type,
        compression=route.compression,
        sort_key=route.key,
        source_schema=route.schema,
        source_table=route.table,
    )


def _check_names(path: str, route: RouteResult) -> None:
    for name in (route.schema, route.table):
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise SourceError(
                printable_path(path),
                "the file name is not valid UTF-8, so it names no database or table; rename the file",
            ) from None


def _quoted(schema: str, table: str = "") -> str:
    """```db`.`table``` as MySQL would quote it, for messages."""
    names = [schema, table] if table else [schema]
    return ".".join("`" + name.replace("`", "``") + "`" for name in names)


def _by_path(files: Iterable[SourceFile]) -> list[SourceFile]:
    return sorted(files, key=lambda f: f.path)


def _import_order(file: SourceFile) -> tuple[int, int, str, str]:
    """Data files in sort-key order: no key first, then numeric keys by value, then other keys."""
    key = file.sort_key
    if not key:
        return (0, 0, "", file.path)
    if key.isascii() and key.isdigit():
        digits = key.lstrip("0")
        return (1, len(digits), digits, file.path)  # numeric order without int(): keys can be huge
    return (2, 0, key, file.path)


class _Found:
    """What the walk found, grouped by target name; :meth:`build` turns it into a DataSource."""

    def __init__(self) -> None:
        self.unmatched: list[str] = []
        self.ignored: list[str] = []
        self.schema_objects: list[SchemaObjectsFile] = []
        self.warnings: list[str] = []  # found while walking
        self.database_files: dict[str, list[SourceFile]] = defaultdict(list)
        self.source_database_files: dict[str, list[SourceFile]] = defaultdict(list)
        self.table_files: dict[tuple[str, str], list[SourceFile]] = defaultdict(list)
        self.view_files: dict[tuple[str, str], list[SourceFile]] = defaultdict(list)
        self.data_files: dict[tuple[str, str], list[SourceFile]] = defaultdict(list)

    def add(self, file: SourceFile, table_router: TableRouter) -> None:
        if file.type == SourceType.SCHEMA_SCHEMA:
            target_schema, _ = table_router.route(file.source_schema, "")
            self.database_files[target_schema].append(file)
            self.source_database_files[file.source_schema].append(file)
            return
        target = table_router.route(file.source_schema, file.source_table)
        if file.type == SourceType.TABLE_SCHEMA:
            self.table_files[target].append(file)
        elif file.type == SourceType.VIEW_SCHEMA:
            self.view_files[target].append(file)
        else:
            self.data_files[target].append(file)

    def add_schema_objects(self, file: SourceFile, table_router: TableRouter) -> None:
        schema, table = table_router.route(file.source_schema, file.source_table)
        if not file.source_table:
            table = ""
        contents = schema_objects_contents(file.path, schema, table)
        self.schema_objects.append(SchemaObjectsFile(file, schema, table, contents))

    def build(self, url: str) -> DataSource:
        warnings: list[str] = list(self.warnings)
        views = {
            key: self._first(files, f"view {_quoted(*key)}", warnings)
            for key, files in sorted(self.view_files.items())
        }
        for key, files in sorted(self.data_files.items()):
            if key in views:
                raise SourceError(
                    printable_path(_by_path(files)[0].path),
                    f"this data file is for {_quoted(*key)}, which {views[key].path} defines as a view; "
                    "remove the data file or route it to a table",
                )

        tables: dict[str, list[TableSource]] = defaultdict(list)
        for key in sorted((self.table_files.keys() | self.data_files.keys()) - views.keys()):
            schema_files = self.table_files.get(key, [])
            data_files = self.data_files.get(key, [])
            schema_file = None
            if schema_files:
                schema_file = self._first(schema_files, f"table {_quoted(*key)}", warnings)
            sources = {(f.source_schema, f.source_table) for f in schema_files + data_files}
            tables[key[0]].append(
                TableSource(
                    schema=key[0],
                    name=key[1],
                    schema_file=schema_file,
                    data_files=tuple(sorted(data_files, key=_import_order)),
                    source_names=tuple(sorted(sources)),
                )
            )

        view_sources: dict[str, list[ViewSource]] = defaultdict(list)
        for (schema, name), file in views.items():
            view_sources[schema].append(ViewSource(schema, name, file))

        # A source database whose every table and view was routed into another database is not created; one
        # that had none to begin with (an empty database) still is. Lightning (mdLoaderSetup.route) drops
        # it only when a schema rule also moves its -schema-create.sql; here table rules suffice too.
        routed_away = {
            f.source_schema
            for key, files in (*self.table_files.items(), *self.view_files.items(), *self.data_files.items())
            for f in files
            if f.source_schema != key[0]
        }
        emptied = {
            name
            for name in routed_away
            if name not in tables and name not in view_sources
            and all(f.source_schema == name for f in self.database_files.get(name, []))
        }
        for name in sorted(emptied):
            log.info(
                "database %s is not created: [[routes]] sends all of its tables elsewhere", _quoted(name)
            )
        databases = []
        for name in sorted((self.database_files.keys() | tables.keys() | view_sources.keys()) - emptied):
            own = self.database_files.get(name)
            if own:
                schema_file = self._first(own, f"database {_quoted(name)}", warnings)
            else:
                schema_file = self._borrowed_schema_file(tables[name], view_sources[name])
            databases.append(
                DatabaseSource(name, schema_file, tuple(tables[name]), tuple(view_sources[name]))
            )

        return DataSource(
            url=url,
            databases=tuple(databases),
            unmatched=tuple(sorted(self.unmatched)),
            ignored=tuple(sorted(self.ignored)),
            warnings=tuple(warnings),
            schema_objects=tuple(sorted(self.schema_objects, key=lambda o: o.file.path)),
        )

    def _borrowed_schema_file(self, tables: list[TableSource], views: list[ViewSource]) -> SourceFile | None:
        """The schema file of a source database routed into a target database that has none."""
        source_schemas = {schema for t in tables for schema, _ in t.source_names}
        source_schemas |= {v.schema_file.source_schema for v in views}
        candidates = [f for schema in source_schemas for f in self.source_database_files.get(schema, [])]
        return _by_path(candidates)[0] if candidates else None

    @staticmethod
    def _first(files: list[SourceFile], what: str, warnings: list[str]) -> SourceFile:
        """The file used among several for one target, with a warning naming those passed over."""
        ordered = _by_path(files)
        if len(ordered) > 1:
            others = [printable_path(f.path) for f in ordered[1:]]
            shown = ", ".join(others[:_WARNING_FILE_LIMIT])
            if len(others) > _WARNING_FILE_LIMIT:
                shown += f" and {len(others) - _WARNING_FILE_LIMIT} more"
            warnings.append(
                f"{what}: {len(ordered)} schema files map to it; using {printable_path(ordered[0].path)}, "
                f"not {shown}"
            )
        return ordered[0]
