"""Reading source files: local and S3, plain and compressed, from any decompressed offset."""

from __future__ import annotations

import gzip
import io
import os

import pytest
import snappy
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_lightning.core.errors import SourceError
from airflow_provider_lightning.core.storage import (
    Compression,
    LocalStorage,
    S3Options,
    S3Storage,
    open_source_file,
    open_storage,
)

CONTENT = b"".join(b"INSERT INTO t VALUES (%d,'row %d');\n" % (i, i) for i in range(5000))


def _compress(data: bytes, compression: Compression) -> bytes:
    if compression == Compression.GZ:
        return gzip.compress(data)
    if compression == Compression.ZSTD:
        return zstandard.ZstdCompressor().compress(data)
    if compression == Compression.SNAPPY:
        out = io.BytesIO()
        snappy.stream_compress(io.BytesIO(data), out)
        return out.getvalue()
    return data


@pytest.fixture
def source_dir(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.sql").write_bytes(CONTENT)
    (tmp_path / "sub" / "b.sql.gz").write_bytes(_compress(CONTENT, Compression.GZ))
    (tmp_path / "c.sql.zst").write_bytes(_compress(CONTENT, Compression.ZSTD))
    (tmp_path / "d.sql.snappy").write_bytes(_compress(CONTENT, Compression.SNAPPY))
    return tmp_path


def test_local_storage_walks_every_file_with_relative_posix_paths(source_dir):
    storage = LocalStorage(source_dir)
    files = {f.path: f for f in storage.walk()}
    assert sorted(files) == ["a.sql", "c.sql.zst", "d.sql.snappy", "sub/b.sql.gz"]
    assert files["a.sql"].size == len(CONTENT)
    assert files["a.sql"].version == str(os.stat(source_dir / "a.sql").st_mtime_ns)


def test_local_storage_refuses_a_missing_directory(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        LocalStorage(tmp_path / "nope")


def test_local_storage_refuses_paths_outside_the_root(source_dir):
    with pytest.raises(SourceError, match="leaves the data source"):
        LocalStorage(source_dir / "sub").open_raw("../a.sql")


@pytest.mark.parametrize(
    ("path", "compression"),
    [
        ("a.sql", Compression.NONE),
        ("sub/b.sql.gz", Compression.GZ),
        ("c.sql.zst", Compression.ZSTD),
        ("d.sql.snappy", Compression.SNAPPY),
    ],
)
@pytest.mark.parametrize("offset", [0, 1, 37, 65536, len(CONTENT) - 1, len(CONTENT)])
def test_open_source_file_starts_at_the_decompressed_offset(source_dir, path, compression, offset):
    with open_source_file(LocalStorage(source_dir), path, compression, offset) as f:
        assert f.read() == CONTENT[offset:]


def test_gzip_with_several_members_reads_them_all(tmp_path):
    (tmp_path / "m.sql.gz").write_bytes(gzip.compress(b"first;") + gzip.compress(b"second;"))
    with open_source_file(LocalStorage(tmp_path), "m.sql.gz", Compression.GZ) as f:
        assert f.read() == b"first;second;"


def test_zstd_with_several_frames_reads_them_all(tmp_path):
    c = zstandard.ZstdCompressor()
    (tmp_path / "m.sql.zst").write_bytes(c.compress(b"first;") + c.compress(b"second;"))
    with open_source_file(LocalStorage(tmp_path), "m.sql.zst", Compression.ZSTD) as f:
        assert f.read() == b"first;second;"


@pytest.mark.parametrize("compression", [Compression.GZ, Compression.ZSTD, Compression.SNAPPY])
def test_truncated_compressed_file_names_the_file_and_says_truncated(tmp_path, compression):
    data = _compress(CONTENT, compression)
    (tmp_path / "t.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError) as err:
        with open_source_file(LocalStorage(tmp_path), "t.bin", compression) as f:
            while f.read(4096):
                pass
    assert err.value.path == "t.bin"
    assert "truncated" in str(err.value) or "corrupt" in str(err.value)
    assert err.value.offset is not None and err.value.offset < len(CONTENT)


@pytest.mark.parametrize("compression", [Compression.GZ, Compression.ZSTD])
def test_empty_compressed_file_is_an_error_not_an_empty_table(tmp_path, compression):
    (tmp_path / "e.bin").write_bytes(b"")
    with pytest.raises(SourceError, match="empty"):
        with open_source_file(LocalStorage(tmp_path), "e.bin", compression) as f:
            f.read()


def test_empty_snappy_file_is_an_empty_stream_as_snappy_writers_make_it(tmp_path):
    (tmp_path / "e.snappy").write_bytes(_compress(b"", Compression.SNAPPY))
    with open_source_file(LocalStorage(tmp_path), "e.snappy", Compression.SNAPPY) as f:
        assert f.read() == b""


def test_snappy_file_cut_inside_its_header_is_truncated(tmp_path):
    (tmp_path / "h.snappy").write_bytes(_compress(b"data", Compression.SNAPPY)[:5])
    with pytest.raises(SourceError, match="truncated"):
        with open_source_file(LocalStorage(tmp_path), "h.snappy", Compression.SNAPPY) as f:
            f.read()


@pytest.mark.parametrize("compression", [Compression.GZ, Compression.ZSTD, Compression.SNAPPY])
def test_garbage_in_a_compressed_file_is_a_source_error(tmp_path, compression):
    (tmp_path / "g.bin").write_bytes(b"this is not compressed at all" * 100)
    with pytest.raises(SourceError):
        with open_source_file(LocalStorage(tmp_path), "g.bin", compression) as f:
            f.read()


def test_unreadable_compression_is_refused_with_the_supported_ones(tmp_path):
    (tmp_path / "x.sql.lz4").write_bytes(b"")
    with pytest.raises(SourceError, match="gz, zstd or snappy"):
        open_source_file(LocalStorage(tmp_path), "x.sql.lz4", Compression.LZ4)


def test_resume_offset_beyond_the_end_is_an_error(tmp_path):
    (tmp_path / "s.gz").write_bytes(gzip.compress(b"short"))
    with pytest.raises(SourceError, match="beyond the end"):
        open_source_file(LocalStorage(tmp_path), "s.gz", Compression.GZ, 100)


def test_compression_names_parse_like_lightning():
    assert Compression.parse("gzip") is Compression.GZ
    assert Compression.parse(".zst") is Compression.ZSTD
    assert Compression.parse("SNAPPY") is Compression.SNAPPY
    with pytest.raises(ValueError, match="allowed"):
        Compression.parse("rar")


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=5000), cut=st.integers(min_value=0, max_value=5000),
       compression=st.sampled_from([Compression.GZ, Compression.ZSTD, Compression.SNAPPY]))
def test_any_content_round_trips_from_any_offset(tmp_path_factory, data, cut, compression):
    root = tmp_path_factory.mktemp("rt")
    (root / "f").write_bytes(_compress(data, compression))
    offset = min(cut, len(data))
    with open_source_file(LocalStorage(root), "f", compression, offset, block_size=7) as f:
        assert f.read() == data[offset:]


def test_open_storage_picks_local_for_paths_and_file_urls(source_dir):
    assert isinstance(open_storage(str(source_dir)), LocalStorage)
    assert isinstance(open_storage(f"file://{source_dir}"), LocalStorage)


def test_open_storage_refuses_unknown_schemes():
    with pytest.raises(SourceError, match="unsupported storage scheme"):
        open_storage("ftp://host/x")


# --- S3, against a local S3-compatible server ---------------------------------------------------------


@pytest.fixture
def s3_source(s3_server, source_dir):
    bucket = s3_server.make_bucket()
    s3_server.upload_dir(source_dir, bucket, "dumps/2026")
    return bucket


def _s3_options(s3_server) -> S3Options:
    return S3Options(
        endpoint_url=s3_server.endpoint_url,
        region_name=s3_server.region,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
    )


def test_s3_storage_walks_the_prefix_with_relative_paths(s3_server, s3_source):
    storage = S3Storage(s3_source, "dumps/2026", _s3_options(s3_server))
    files = {f.path: f for f in storage.walk()}
    assert sorted(files) == ["a.sql", "c.sql.zst", "d.sql.snappy", "sub/b.sql.gz"]
    assert files["a.sql"].size == len(CONTENT)
    assert files["a.sql"].version  # the ETag


@pytest.mark.parametrize(
    ("path", "compression"),
    [("a.sql", Compression.NONE), ("sub/b.sql.gz", Compression.GZ), ("d.sql.snappy", Compression.SNAPPY)],
)
def test_s3_source_file_reads_from_an_offset(s3_server, s3_source, path, compression):
    storage = S3Storage(s3_source, "dumps/2026", _s3_options(s3_server))
    with open_source_file(storage, path, compression, 1000) as f:
        assert f.read() == CONTENT[1000:]


def test_s3_read_range_returns_exactly_the_range(s3_server, s3_source):
    storage = S3Storage(s3_source, "dumps/2026", _s3_options(s3_server))
    assert storage.read_range("a.sql", 10, 50) == CONTENT[10:50]
    assert storage.read_range("a.sql", len(CONTENT) - 5, len(CONTENT) + 100) == CONTENT[-5:]


def test_s3_url_query_carries_endpoint_and_credentials(s3_server, s3_source):
    url = (
        f"s3://{s3_source}/dumps/2026?endpoint={s3_server.endpoint_url}&access-key={s3_server.access_key}"
        f"&secret-access-key={s3_server.secret_key}&region={s3_server.region}&force-path-style=true"
    )
    storage = open_storage(url)
    assert isinstance(storage, S3Storage)
    assert storage.url == f"s3://{s3_source}/dumps/2026"
    assert len(list(storage.walk())) == 4


def test_s3_missing_object_is_a_source_error_naming_it(s3_server, s3_source):
    storage = S3Storage(s3_source, "dumps/2026", _s3_options(s3_server))
    with pytest.raises(SourceError, match="nope.sql"):
        storage.stat("nope.sql")
