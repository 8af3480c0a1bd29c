"""File routing: Lightning's default mydumper/Dumpling rules, [[mydumper.files]] rules, Go regexps."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_lightning.core.errors import ConfigError, SourceError
from airflow_provider_lightning.core.mydump.router import (
    FileRouter,
    RouteResult,
    SourceType,
    compile_go_regexp,
)
from airflow_provider_lightning.core.storage import Compression


@dataclass(frozen=True)
class FileRule:
    """A [[mydumper.files]] entry shaped like the config module's."""

    pattern: str | None = None
    path: str | None = None
    schema: str = ""
    table: str = ""
    type: str = ""
    key: str = ""
    compression: str = ""


_DUMPLING_ESCAPED = re.compile(r'[\x00-\x1f%"*./:<>?\\|]|-(?i:schema)')


def dumpling_escape(name: str) -> str:
    """How Dumpling writes an identifier into a file name: special characters become %XX."""
    return _DUMPLING_ESCAPED.sub(lambda m: f"%{ord(m.group(0)[0]):02X}{m.group(0)[1:]}", name)


def route(path: str, **router_args) -> RouteResult | None:
    return FileRouter(**router_args).route(path)


# --- SourceType ----------------------------------------------------------------------------------------


def test_source_types_carry_lightnings_numbers():
    assert [(t.name, int(t)) for t in SourceType] == [
        ("IGNORE", 0),
        ("SCHEMA_SCHEMA", 1),
        ("TABLE_SCHEMA", 2),
        ("SQL", 3),
        ("CSV", 4),
        ("PARQUET", 5),
        ("VIEW_SCHEMA", 6),
        ("SCHEMA_OBJECTS", 7),  # ours: triggers, routines, events
    ]


@pytest.mark.parametrize("source_type", list(SourceType))
def test_source_type_parses_its_config_label_in_any_case(source_type):
    assert SourceType.parse(f" {source_type.label.upper()} ") is source_type


def test_source_type_refuses_an_unknown_label_and_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="'table-schema'"):
        SourceType.parse("orc")


# --- default rules -------------------------------------------------------------------------------------

S, T, V = SourceType.SCHEMA_SCHEMA, SourceType.TABLE_SCHEMA, SourceType.VIEW_SCHEMA
NONE, GZ, ZSTD, SNAPPY = Compression.NONE, Compression.GZ, Compression.ZSTD, Compression.SNAPPY


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("db-schema-create.sql", RouteResult("db", "", S, "", NONE)),
        ("db-schema-create.sql.gz", RouteResult("db", "", S, "", GZ)),
        ("db.t-schema.sql", RouteResult("db", "t", T, "", NONE)),
        ("db.t-schema.sql.zst", RouteResult("db", "t", T, "", ZSTD)),
        ("db.v-schema-view.sql", RouteResult("db", "v", V, "", NONE)),
        ("db.t.sql", RouteResult("db", "t", SourceType.SQL, "", NONE)),
        ("db.t.00001.sql", RouteResult("db", "t", SourceType.SQL, "00001", NONE)),
        ("db.t.000000000.csv", RouteResult("db", "t", SourceType.CSV, "000000000", NONE)),
        ("db.t.000000000.sql.gz", RouteResult("db", "t", SourceType.SQL, "000000000", GZ)),
        ("db.t.000000000.sql.gzip", RouteResult("db", "t", SourceType.SQL, "000000000", GZ)),
        ("db.t.000000000.csv.zst", RouteResult("db", "t", SourceType.CSV, "000000000", ZSTD)),
        ("db.t.000000000.csv.zstd", RouteResult("db", "t", SourceType.CSV, "000000000", ZSTD)),
        ("db.t.000000000.sql.snappy", RouteResult("db", "t", SourceType.SQL, "000000000", SNAPPY)),
        ("db.t.000000000.parquet", RouteResult("db", "t", SourceType.PARQUET, "000000000", NONE)),
        ("db.t.000000001.snappy.parquet", RouteResult("db", "t", SourceType.PARQUET, "000000001", NONE)),
        ("DB.T.7.SQL.GZ", RouteResult("DB", "T", SourceType.SQL, "7", GZ)),
        ("a/b/c/db.t.1.sql", RouteResult("db", "t", SourceType.SQL, "1", NONE)),
        ("db.t.x.y.sql", RouteResult("db", "t.x.y", SourceType.SQL, "", NONE)),
    ],
)
def test_default_rules_route_mydumper_and_dumpling_names(path, expected):
    assert route(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "db.t-schema-post.sql",  # no dumper writes it; Lightning's rule ignores it
        "db.t.000000000.sql.bak",
        "db.t.csv.gz.BAK",
    ],
)
def test_default_rules_mark_other_post_scripts_and_backups_as_ignored(path):
    assert route(path).type == SourceType.IGNORE


@pytest.mark.parametrize("path", ["metadata", "README.md", "db.sql", "dir/notes.txt", ".hidden"])
def test_default_rules_match_nothing_else(path):
    assert route(path) is None


def test_default_rules_percent_decode_dumplings_escaped_names():
    assert route("db.a%2Eb.000000000.sql") == RouteResult("db", "a.b", SourceType.SQL, "000000000", NONE)
    assert route("my%2Ddb-schema-create.sql").schema == "my-db"


def test_a_malformed_percent_escape_leaves_the_name_as_written():
    assert route("db.t%zz.sql").table == "t%zz"


def test_a_percent_escape_that_is_not_utf8_leaves_the_name_as_written():
    assert route("db.t%FF.sql").table == "t%FF"


@given(
    schema=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20),
    table=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20),
    index=st.integers(0, 10**9),
)
def test_any_identifiers_dumpling_escapes_route_back_to_themselves(schema, table, index):
    name = f"{dumpling_escape(schema)}.{dumpling_escape(table)}"
    router = FileRouter()
    assert router.route(f"{name}.{index:09d}.sql") == RouteResult(
        schema, table, SourceType.SQL, f"{index:09d}", NONE
    )
    assert router.route(f"{name}-schema.sql") == RouteResult(schema, table, T, "", NONE)
    assert router.route(f"{dumpling_escape(schema)}-schema-create.sql") == RouteResult(schema, "", S, "", NONE)


def test_compressions_that_cannot_be_read_are_still_recognised():
    assert route("db.t.1.sql.lz4").compression == Compression.LZ4
    assert route("db.t.1.csv.xz").compression == Compression.XZ


def test_an_unknown_compression_suffix_is_an_error_naming_the_file():
    with pytest.raises(SourceError, match=r"db\.t\.1\.sql\.txt: .*'txt'.*gz, gzip, zst, zstd, snappy"):
        route("db.t.1.sql.txt")


def test_a_parquet_file_compressed_as_a_whole_is_an_error():
    with pytest.raises(SourceError, match="Parquet file compressed as a whole"):
        route("db.t.1.parquet.gz")


def test_without_default_rules_dump_names_match_nothing():
    assert route("db.t.000000000.sql", default_rules=False) is None


# --- [[mydumper.files]] rules --------------------------------------------------------------------------

LIGHTNING_EXAMPLE = FileRule(
    pattern=r"(?i)^(?:[^/]*/)(?P<schema>[^/.]+)\.([^/.]+)(?:\.([0-9]+))?\.(sql|csv)$",
    schema="$schema",
    table="$2",
    type="$4",
    key="$3",
)


def test_the_example_rule_of_lightnings_docs_routes_by_named_and_numbered_groups():
    router = FileRouter([LIGHTNING_EXAMPLE], default_rules=False)
    assert router.route("export/shop.orders.12.csv") == RouteResult(
        "shop", "orders", SourceType.CSV, "12", NONE
    )
    assert router.route("shop.orders.12.csv") is None  # the pattern needs one directory


def test_custom_rules_are_tried_before_the_default_ones():
    rule = FileRule(pattern=r"\.sql$", schema="all", table="in_one", type="sql")
    assert route("db.t.1.sql", rules=[rule]) == RouteResult("all", "in_one", SourceType.SQL, "", NONE)
    assert route("db.t.1.csv", rules=[rule]).table == "t"


def test_the_first_matching_custom_rule_wins():
    rules = [
        FileRule(pattern=r"^a/", schema="first", table="t", type="csv"),
        FileRule(pattern=r"\.csv$", schema="second", table="t", type="csv"),
    ]
    assert route("a/x.csv", rules=rules, default_rules=False).schema == "first"


def test_a_rule_can_ignore_files():
    rule = FileRule(pattern=r"^tmp/", type="ignore")
    assert route("tmp/db.t.1.sql", rules=[rule]).type == SourceType.IGNORE


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$1", "ab"),
        ("${1}", "ab"),
        ("$name", "cd"),
        ("${name}", "cd"),
        ("x_${1}_y", "x_ab_y"),
        ("$$1", "$1"),
        ("cost$", "cost$"),  # a '$' that starts no variable is kept
        ("${1", "${1"),
        ("$3", ""),  # a group that took no part
    ],
)
def test_templates_expand_as_gos_regexp_expand(template, expected):
    rule = FileRule(pattern=r"^(ab)_(?P<name>cd)(x)?\.csv$", schema="db", table="t", type="csv", key=template)
    assert route("ab_cd.csv", rules=[rule], default_rules=False).key == expected


def test_the_compression_can_come_from_the_path():
    rule = FileRule(pattern=r"^(\w+)\.csv(?:\.(\w+))?$", schema="db", table="$1", type="csv", compression="$2")
    router = FileRouter([rule], default_rules=False)
    assert router.route("t.csv.gz").compression == GZ
    assert router.route("t.csv").compression == NONE


def test_a_type_template_that_gives_no_known_type_is_an_error_naming_rule_and_file():
    rule = FileRule(pattern=r"^(\w+)\.(\w+)$", schema="db", table="$1", type="$2")
    with pytest.raises(SourceError, match=r"t\.orc: mydumper\.files\[0\] gives this file unknown file type 'orc'"):
        route("t.orc", rules=[rule], default_rules=False)


def test_a_rule_that_gives_an_empty_table_name_is_an_error():
    rule = FileRule(pattern=r"^(\w*)\.csv$", schema="db", table="$1", type="csv")
    with pytest.raises(SourceError, match="empty table name"):
        route(".csv", rules=[rule], default_rules=False)


def test_a_path_rule_matches_exactly_that_path():
    rule = FileRule(path="dir/data.csv", schema="db", table="t", type="csv")
    router = FileRouter([rule], default_rules=False)
    assert router.route("dir/data.csv") == RouteResult("db", "t", SourceType.CSV, "", NONE)
    assert router.route("other/dir/data.csv") is None
    assert router.route("dir/data.csv.gz") is None
    assert router.route("dir/dataXcsv") is None


def test_templates_of_a_path_rule_are_literal():
    rule = FileRule(path="data.csv", schema="db", table="price$1", type="csv")
    assert route("data.csv", rules=[rule]).table == "price$1"


def test_an_absolute_path_rule_inside_the_source_is_made_relative(tmp_path):
    rule = FileRule(path=f"{tmp_path}/sub/data.csv", schema="db", table="t", type="csv")
    assert route("sub/data.csv", rules=[rule], source_root=str(tmp_path)).table == "t"


def test_an_absolute_path_rule_outside_the_source_is_a_config_error(tmp_path):
    rule = FileRule(path="/elsewhere/data.csv", schema="db", table="t", type="csv")
    with pytest.raises(ConfigError, match=r"mydumper\.files\[0\]\.path.*not inside the data source"):
        FileRouter([rule], source_root=str(tmp_path))


@pytest.mark.parametrize(
    ("rule", "key", "message"),
    [
        (FileRule(schema="db", table="t", type="csv"), "pattern", "one of 'pattern' and 'path'"),
        (FileRule(pattern="x", path="x", schema="db", table="t", type="csv"), "path", "not both"),
        (FileRule(pattern="(x", schema="db", table="t", type="csv"), "pattern", "not a usable regular"),
        (FileRule(pattern=r"(x)\1", schema="db", table="t", type="csv"), "pattern", "backreferences"),
        (FileRule(pattern="x", schema="db", table="t"), "type", "must not be empty"),
        (FileRule(pattern="x", schema="db", table="t", type="orc"), "type", "unknown file type 'orc'"),
        (FileRule(pattern="x", table="t", type="csv"), "schema", "must not be empty"),
        (FileRule(pattern="x", schema="db", type="csv"), "table", "must not be empty"),
        (FileRule(pattern="(x)", schema="$2", table="t", type="csv"), "schema", "only 1 groups"),
        (FileRule(pattern="(x)", schema="db", table="$tbl", type="csv"), "table", "no named group"),
        (FileRule(pattern="(x)", schema="db", table="t", type="csv", key="${9}"), "key", "group 9"),
        (FileRule(pattern="x", schema="db", table="t", type="csv", compression="lzma"), "compression", "lzma"),
    ],
)
def test_invalid_rules_are_config_errors_naming_the_key(rule, key, message):
    ok = FileRule(pattern="ok", schema="db", table="t", type="csv")
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        FileRouter([ok, rule])
    assert caught.value.key == f"mydumper.files[1].{key}"


def test_a_schema_schema_rule_needs_no_table():
    rule = FileRule(pattern=r"^(\w+)\.create$", schema="$1", type="schema-schema")
    assert route("db.create", rules=[rule]) == RouteResult("db", "", S, "", NONE)


def test_an_ignore_rule_needs_nothing_but_its_pattern():
    assert route("x", rules=[FileRule(pattern="x", type="ignore")]).type == SourceType.IGNORE


# --- Go regular expressions ----------------------------------------------------------------------------


def test_go_dollar_is_the_end_of_the_text_not_of_a_line():
    assert compile_go_regexp(r"\.sql$").search("a.sql\n") is None
    assert compile_go_regexp(r"(?m)\.sql$").search("a.sql\nb") is not None


def test_go_perl_classes_are_ascii_only():
    assert compile_go_regexp(r"^\d+$").search("١٢") is None  # Arabic-Indic digits
    assert compile_go_regexp(r"^\w+$").search("é") is None
    assert compile_go_regexp(r"^\pL+$").search("é") is not None


def test_a_brace_that_is_no_repetition_is_literal_as_in_go():
    assert compile_go_regexp(r"^x{,3}$").search("x{,3}") is not None


def test_a_flag_group_in_mid_pattern_holds_to_the_end_of_its_group_across_alternatives():
    regex = compile_go_regexp(r"^(a(?i)b|c)$")
    assert [bool(regex.search(s)) for s in ("ab", "aB", "AB", "C")] == [True, True, False, True]


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"^(?<db>\w+)$", "x"),
        (r"^a\z", "a"),
        (r"^\Q*.+\E$", "*.+"),
        (r"^[[:alpha:]]+$", "abc"),
        (r"^\x{1F600}$", "😀"),
        (r"^\101$", "A"),
        (r"^[^\d]$", "x"),
    ],
)
def test_go_only_syntax_is_translated(pattern, text):
    assert compile_go_regexp(pattern).search(text) is not None


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "backreferences"),
        (r"(?=a)", "lookaround"),
        (r"(?<!a)b", "lookaround"),
        (r"a*+", "nested repetition"),
        (r"(?U)a*", "ungreedy"),
        (r"\p{Greek}", "Unicode class"),
        (r"[z-a]", "range"),
        (r"\k", "invalid escape"),
    ],
)
def test_syntax_go_does_not_have_is_refused_with_the_reason(pattern, reason):
    with pytest.raises(ValueError, match=reason):
        compile_go_regexp(pattern)


def _go_quote_meta(text: str) -> str:
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=30))
def test_a_go_quoted_literal_matches_exactly_itself(text):
    regex = compile_go_regexp("^" + _go_quote_meta(text) + "$")
    assert regex.search(text) is not None
    assert regex.search(text + "x") is None
