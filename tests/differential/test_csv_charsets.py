"""CSV files written in GBK, GB18030 and latin1 (and UTF-8, the control): ``lightning import`` with
``[mydumper] data-character-set`` set stores what ``LOAD DATA LOCAL INFILE ... CHARACTER SET x`` stores,
by rows and by ``CHECKSUM TABLE``.

MariaDB 10.11 has no gb18030 character set, so for GB18030 the oracle loads the file as glibc's ``iconv``
converts it to UTF-8 (a converter that is not ours), with ``CHARACTER SET utf8mb4``.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.differential.compare import assert_same_table
from tests.differential.dumps import import_with_lightning, mariadb_client_sql
from tests.differential.tables import GBK_HOSTILE, LATIN1_HOSTILE, UTF8MB4_HOSTILE

SOURCE_DATABASE = "csvsrc"
GENERATED_ROWS = 30

# Values that CSV readers get wrong: the separator, the delimiter, the escape, line ends inside a field,
# a literal \N that is not NULL, and a field that is only spaces.
CSV_HOSTILE = (
    "a,b",
    '"quoted"',
    'say ""twice""',
    "back\\slash",
    "\\N",
    "\\",
    "ends with \\",
    "new\nline",
    "cr\r\nlf",
    "nul\x00byte",
    "tab\tx",
    "NULL",
    "",
    "   ",
    "ctrl-z\x1a",
    "'single'",
)


@dataclass(frozen=True)
class CsvCharset:
    """A file encoding, how Python writes it, and what the oracle needs to read it."""

    name: str  # data-character-set, and the test id
    native_column: str  # the character set of the column that holds the text in the file's own charset
    alphabet: st.SearchStrategy[str]
    hostile: tuple[str, ...]
    load_data_charset: str  # LOAD DATA ... CHARACTER SET of the file the oracle reads
    iconv_from: str | None = None  # convert with iconv to UTF-8 first (a charset MariaDB lacks)

    def encode(self, text: str) -> bytes:
        if self.name == "latin1":
            return encode_mysql_latin1(text)
        return text.encode("utf-8" if self.name == "utf8mb4" else self.name)


def encode_mysql_latin1(text: str) -> bytes:
    """MySQL's latin1: cp1252, and the five bytes cp1252 leaves undefined as the C1 controls of that value."""
    out = bytearray()
    for char in text:
        if ord(char) in (0x81, 0x8D, 0x8F, 0x90, 0x9D):
            out.append(ord(char))
        else:
            out += char.encode("cp1252")
    return bytes(out)


_CSV_SPECIALS = st.sampled_from(list(',"\\\n\r\x00\tN'))
_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)

CHARSETS = (
    # the control: no conversion at all, so a difference here is the CSV reader's, not a charset's
    CsvCharset(
        "utf8mb4",
        "utf8mb4",
        st.one_of(_CSV_SPECIALS, st.characters(codec="utf-8", exclude_categories=("Cs",))),
        tuple(UTF8MB4_HOSTILE),
        "utf8mb4",
    ),
    CsvCharset(
        "gbk",
        "gbk",
        st.one_of(
            st.characters(max_codepoint=127), _CSV_SPECIALS, _CJK, st.sampled_from("".join(GBK_HOSTILE))
        ),
        tuple(GBK_HOSTILE),
        "gbk",
    ),
    CsvCharset(
        "gb18030",
        "utf8mb4",
        st.one_of(st.characters(max_codepoint=127), _CSV_SPECIALS, _CJK, st.sampled_from("éü€😀𠀀𝄞👍🏽ÿß")),
        tuple(h for h in UTF8MB4_HOSTILE if "\u202e" not in h) + GBK_HOSTILE + ("€ 5", "café"),
        "utf8mb4",
        iconv_from="GB18030",
    ),
    CsvCharset(
        "latin1",
        "latin1",
        st.one_of(
            _CSV_SPECIALS,
            st.sampled_from(
                [chr(c) for c in range(0x20, 0x7F)]
                + [chr(c) for c in range(0xA0, 0x100)]
                + list("€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ\u0081\u008d\u008f\u0090\u009d")
            ),
        ),
        tuple(LATIN1_HOSTILE),
        "latin1",
    ),
)


@functools.cache
def csv_rows(charset: CsvCharset) -> tuple[tuple[int, str | None, str | None, str | None], ...]:
    """(id, u, n, t): the same text in a utf8mb4 column and in the native one, then a TEXT column."""
    values = [*CSV_HOSTILE, *charset.hostile]
    rows = [(v, v, v[::-1]) for v in values]
    rows.append((None, None, None))

    @settings(
        derandomize=True,
        max_examples=GENERATED_ROWS,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(st.tuples(*(st.none() | st.text(charset.alphabet, max_size=20) for _ in range(3))))
    def collect(row):
        rows.append(row)

    collect()
    return tuple((i + 1, *row) for i, row in enumerate(rows))


def csv_field(value: str | None, charset: CsvCharset) -> bytes:
    r"""A field as ``SELECT ... INTO OUTFILE`` writes it (ENCLOSED BY '"'): \, " and NUL escaped, \N NULL."""
    if value is None:
        return b"\\N"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\0")
    return b'"' + charset.encode(escaped) + b'"'


def write_csv_source(source: Path, charset: CsvCharset) -> str:
    """The schema files and one CSV file (in ``charset``) of table ``csv_<name>``; returns its name."""
    table = f"csv_{charset.name}"
    source.mkdir(parents=True)
    (source / f"{SOURCE_DATABASE}-schema-create.sql").write_text(f"CREATE DATABASE `{SOURCE_DATABASE}`;\n")
    (source / f"{SOURCE_DATABASE}.{table}-schema.sql").write_text(
        f"CREATE TABLE `{table}` (\n"
        "  `id` INT NOT NULL PRIMARY KEY,\n"
        "  `u` VARCHAR(80) CHARACTER SET utf8mb4 NULL,\n"
        f"  `n` VARCHAR(80) CHARACTER SET {charset.native_column} NULL,\n"
        "  `t` TEXT CHARACTER SET utf8mb4 NULL\n"
        ") DEFAULT CHARSET=utf8mb4;\n"
    )
    lines = [b"id,u,n,t"]
    for row_id, *texts in csv_rows(charset):
        lines.append(b",".join([str(row_id).encode(), *(csv_field(t, charset) for t in texts)]))
    (source / f"{SOURCE_DATABASE}.{table}.000000001.csv").write_bytes(b"\n".join(lines) + b"\n")
    return table


def load_with_load_data(server, database: str, source: Path, table: str, charset: CsvCharset) -> None:
    """The oracle: the schema file through the client, then ``LOAD DATA LOCAL INFILE ... CHARACTER SET``."""
    schema = (source / f"{SOURCE_DATABASE}.{table}-schema.sql").read_text()
    mariadb_client_sql(server, database, schema)
    data = source / f"{SOURCE_DATABASE}.{table}.000000001.csv"
    if charset.iconv_from:
        converted = data.parent.parent / f"{data.name}.utf8"
        with converted.open("wb") as out:
            subprocess.run(
                ["iconv", "-f", charset.iconv_from, "-t", "UTF-8", str(data)], stdout=out, check=True
            )
        data = converted
    mariadb_client_sql(
        server,
        database,
        f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE `{table}` CHARACTER SET {charset.load_data_charset} "
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' "
        "LINES TERMINATED BY '\\n' IGNORE 1 LINES",
    )


@dataclass(frozen=True)
class LoadedCsv:
    table: str
    oracle: str
    ours: str
    summary: str
    returncode: int


@pytest.fixture(scope="module", params=CHARSETS, ids=[c.name for c in CHARSETS])
def loaded_csv(request, mysql_server, session_database, tmp_path_factory) -> LoadedCsv:
    charset: CsvCharset = request.param
    workdir = tmp_path_factory.mktemp(f"csv-{charset.name}")
    source = workdir / "source"
    table = write_csv_source(source, charset)
    oracle = session_database("lt_dcsvoracle")
    load_with_load_data(mysql_server, oracle, source, table, charset)
    ours = session_database("lt_dcsvours")
    run = import_with_lightning(
        mysql_server,
        source,
        SOURCE_DATABASE,
        ours,
        session_database("lt_dti"),
        workdir / "lightning",
        extra_config=f'[mydumper]\ndata-character-set = "{charset.name}"\n',
    )
    return LoadedCsv(table, oracle, ours, run.summary(), run.returncode)


def test_the_csv_import_succeeds(loaded_csv):
    assert loaded_csv.returncode == 0, loaded_csv.summary


def test_the_csv_lands_as_load_data_loads_it(loaded_csv, mysql_server):
    assert_same_table(mysql_server, loaded_csv.oracle, loaded_csv.ours, loaded_csv.table, loaded_csv.summary)


@pytest.mark.parametrize("charset", CHARSETS, ids=[c.name for c in CHARSETS])
def test_the_oracle_reads_back_every_value_written(charset, mysql_server, make_database, tmp_path):
    """The CSV files and LOAD DATA agree with the values meant: a wrong oracle would make the suite blind."""
    table = write_csv_source(tmp_path / "source", charset)
    database = make_database("lt_dcsvcheck")
    load_with_load_data(mysql_server, database, tmp_path / "source", table, charset)
    conn = mysql_server.connect(database, charset="utf8mb4")
    with conn.cursor() as cur:
        cur.execute(f"SELECT id, u, n, t FROM `{table}` ORDER BY id")
        stored = list(cur.fetchall())
    conn.close()
    assert stored == list(csv_rows(charset))
