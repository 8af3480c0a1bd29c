"""Reading source files from local disk or S3, with transparent gz / zstd / snappy decompression.

A data source is a :class:`Storage`: it lists its files (path relative to the source root, ``/``-separated)
and opens one as a stream of raw bytes from a given position. :func:`open_source_file` adds decompression
and positions the stream at an offset of the *decompressed* data, which is what checkpoints record.

Every failure is raised as :class:`~airflow_provider_lightning.core.errors.SourceError` naming the file
and, for a broken compressed stream, the decompressed offset where it broke.
"""

from __future__ import annotations

import enum
import errno
import io
import logging
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from airflow_provider_lightning.core.errors import SourceError

log = logging.getLogger(__name__)

DEFAULT_READ_BLOCK_SIZE = 64 * 1024


class Compression(enum.IntEnum):
    """Compression of a source file; numbers are Lightning's (``mydump.Compression``)."""

    NONE = 0
    GZ = 1
    LZ4 = 2
    ZSTD = 3
    XZ = 4
    LZO = 5
    SNAPPY = 6

    @classmethod
    def parse(cls, name: str) -> Compression:
        """Map a file extension or a ``[[mydumper.files]] compression`` value to a Compression."""
        try:
            return _COMPRESSION_NAMES[name.lower().lstrip(".")]
        except KeyError:
            allowed = ", ".join(repr(n) for n in _COMPRESSION_NAMES if n)
            raise ValueError(f"unknown compression {name!r}; allowed: {allowed}") from None

    @property
    def readable(self) -> bool:
        return self in (Compression.NONE, Compression.GZ, Compression.ZSTD, Compression.SNAPPY)


_COMPRESSION_NAMES = {
    "": Compression.NONE,
    "none": Compression.NONE,
    "gz": Compression.GZ,
    "gzip": Compression.GZ,
    "zst": Compression.ZSTD,
    "zstd": Compression.ZSTD,
    "snappy": Compression.SNAPPY,
    "lz4": Compression.LZ4,
    "xz": Compression.XZ,
    "lzo": Compression.LZO,
}


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file of a data source.

    ``version`` changes whenever the file's content may have changed (modification time on disk, ETag on
    S3); together with ``size`` it goes into the input fingerprint of a checkpoint.
    """

    path: str
    size: int
    version: str
    broken_link: str = ""
    """Why this is a symbolic link that cannot be followed (its target is missing); empty for a file.
    The listing keeps such links so that the loader can tell one that is needed from one that is not."""


class Storage(Protocol):
    """A data source: a directory on local disk or a prefix in an S3 bucket."""

    url: str

    def walk(self) -> Iterator[FileInfo]:
        """Every file below the root, in no particular order."""
        ...

    def stat(self, path: str) -> FileInfo: ...

    def open_raw(self, path: str, start: int = 0) -> BinaryIO:
        """The stored bytes of ``path`` from byte ``start`` to its end."""
        ...

    def read_range(self, path: str, start: int, end: int) -> bytes:
        """The stored bytes ``[start, end)`` of ``path`` (fewer at the end of the file)."""
        ...


class LocalStorage:
    """A directory on local disk."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)
        if not self.root.is_dir():
            raise SourceError(str(root), "data source directory does not exist or is not a directory")

    def _full(self, path: str) -> Path:
        full = (self.root / path).resolve()
        if full != self.root and self.root not in full.parents:
            raise SourceError(path, "path leaves the data source directory")
        return full

    def walk(self) -> Iterator[FileInfo]:
        for dirpath, dirnames, filenames in os.walk(self.root, onerror=self._walk_error):
            dirnames.sort()
            for name in sorted(filenames):
                full = Path(dirpath, name)
                try:
                    st = full.stat()
                except OSError as exc:
                    if full.is_symlink():
                        rel = full.relative_to(self.root).as_posix()
                        yield FileInfo(rel, 0, "", broken_link=_broken_link_reason(full, exc))
                        continue
                    raise SourceError(str(full), f"cannot read file: {exc.strerror}") from exc
                if not full.is_file():
                    continue
                rel = full.relative_to(self.root).as_posix()
                yield FileInfo(rel, st.st_size, str(st.st_mtime_ns))

    def _walk_error(self, exc: OSError) -> None:
        raise SourceError(exc.filename or self.url, f"cannot list directory: {exc.strerror}") from exc

    def stat(self, path: str) -> FileInfo:
        try:
            st = self._full(path).stat()
        except OSError as exc:
            raise SourceError(path, f"cannot read file: {exc.strerror}") from exc
        return FileInfo(path, st.st_size, str(st.st_mtime_ns))

    def open_raw(self, path: str, start: int = 0) -> BinaryIO:
        try:
            f = open(self._full(path), "rb")  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise SourceError(path, f"cannot open file: {exc.strerror}") from exc
        if start:
            f.seek(start)
        return f

    def read_range(self, path: str, start: int, end: int) -> bytes:
        with self.open_raw(path, start) as f:
            return f.read(max(0, end - start))


@dataclass(frozen=True, slots=True)
class S3Options:
    """How to reach S3: credentials and endpoint; empty fields fall back to boto3's own lookup."""

    endpoint_url: str | None = None
    region_name: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    force_path_style: bool = False


class S3Storage:
    """A prefix in an S3 bucket, read through boto3."""

    def __init__(self, bucket: str, prefix: str, options: S3Options | None = None) -> None:
        import boto3  # noqa: PLC0415 - boto3 is slow to import and only S3 sources need it
        from botocore.config import Config  # noqa: PLC0415

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        options = options or S3Options()
        config = Config(
            s3={"addressing_style": "path"} if options.force_path_style else {},
            retries={"max_attempts": 5, "mode": "standard"},
        )
        self._client = boto3.client(
            "s3",
            endpoint_url=options.endpoint_url,
            region_name=options.region_name,
            aws_access_key_id=options.aws_access_key_id,
            aws_secret_access_key=options.aws_secret_access_key,
            aws_session_token=options.aws_session_token,
            config=config,
        )

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _error(self, path: str, action: str, exc: Exception) -> SourceError:
        from botocore.exceptions import ConnectionError as Unreachable  # noqa: PLC0415
        from botocore.exceptions import HTTPClientError  # noqa: PLC0415 - read timeouts, dropped connections

        where = f"{self.url}/{path}" if path else self.url
        return SourceError(where, f"cannot {action}: {exc}", retryable=isinstance(exc, (Unreachable, HTTPClientError)))

    def walk(self) -> Iterator[FileInfo]:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        base = f"{self.prefix}/" if self.prefix else ""
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
                for obj in page.get("Contents", ()):
                    key: str = obj["Key"]
                    if key.endswith("/"):
                        continue
                    yield FileInfo(key[len(base) :], obj["Size"], obj["ETag"].strip('"'))
        except (BotoCoreError, ClientError) as exc:
            raise self._error("", "list objects", exc) from exc

    def stat(self, path: str) -> FileInfo:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(path))
        except (BotoCoreError, ClientError) as exc:
            raise self._error(path, "read object", exc) from exc
        return FileInfo(path, head["ContentLength"], head["ETag"].strip('"'))

    def open_raw(self, path: str, start: int = 0) -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        kwargs = {"Range": f"bytes={start}-"} if start else {}
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=self._key(path), **kwargs)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return io.BytesIO(b"")
            raise self._error(path, "read object", exc) from exc
        except BotoCoreError as exc:
            raise self._error(path, "read object", exc) from exc
        return _StreamingBodyReader(body)

    def read_range(self, path: str, start: int, end: int) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        if end <= start:
            return b""
        try:
            resp = self._client.get_object(
                Bucket=self.bucket, Key=self._key(path), Range=f"bytes={start}-{end - 1}"
            )
            return resp["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""
            raise self._error(path, "read object", exc) from exc
        except BotoCoreError as exc:
            raise self._error(path, "read object", exc) from exc


class _StreamingBodyReader(io.RawIOBase):
    """botocore's StreamingBody as a file object that the buffered readers below accept."""

    def __init__(self, body) -> None:  # noqa: ANN001 - botocore.response.StreamingBody
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


def _broken_link_reason(link: Path, exc: OSError) -> str:
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    if exc.errno == errno.ENOENT:
        return f"a symbolic link to {target}, which does not exist"
    return f"a symbolic link to {target}, which cannot be followed ({exc.strerror})"


def open_storage(url: str, *, s3: S3Options | None = None) -> Storage:
    """Open the data source at ``url``: a local path, ``file://`` / ``local://`` URL, or ``s3://bucket/prefix``.

    For S3, credentials and endpoint come from ``s3`` and, as in Lightning, from the URL's query
    (``?endpoint=...&region=...&access-key=...&secret-access-key=...&force-path-style=true``).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("", "file", "local") or len(scheme) == 1:  # one letter: a Windows drive
        path = url if scheme in ("",) or len(scheme) == 1 else unquote(parts.netloc + parts.path)
        return LocalStorage(path)
    if scheme in ("s3", "s3a"):
        return S3Storage(parts.netloc, unquote(parts.path), _s3_options_from_query(parts.query, s3))
    raise SourceError(url, f"unsupported storage scheme {scheme!r}; use a local path or s3://bucket/prefix")


def _s3_options_from_query(query: str, base: S3Options | None) -> S3Options:
    base = base or S3Options()
    params = {k.lower(): v[-1] for k, v in parse_qs(query).items()}
    return S3Options(
        endpoint_url=params.get("endpoint") or base.endpoint_url,
        region_name=params.get("region") or base.region_name,
        aws_access_key_id=params.get("access-key") or base.aws_access_key_id,
        aws_secret_access_key=params.get("secret-access-key") or base.aws_secret_access_key,
        aws_session_token=params.get("session-token") or base.aws_session_token,
        force_path_style=params.get("force-path-style", "").lower() in ("1", "true")
        or base.force_path_style,
    )


# --- decompression -------------------------------------------------------------------------------------


class _Decoder(Protocol):
    input_piece: int
    """At most this much input goes into one :meth:`decompress` call, so that its output stays bounded
    (a few MiB) whatever the input holds: see :data:`MAX_DECOMPRESSED_PIECE`."""

    def decompress(self, data: bytes) -> bytes: ...

    def finished(self) -> bool:
        """True when the input seen so far forms complete compressed streams."""
        ...


MAX_DECOMPRESSED_PIECE = 4 * 1024 * 1024 + 128 * 1024
"""The most output one decoder call can produce from its ``input_piece`` of input, by each format's largest
possible expansion. A decompression bomb (a few hundred KB that inflate to gigabytes) is therefore read a
few MiB at a time, like any other file, and costs time, never memory."""


class _MultiFrameDecoder:
    """Compressed frames one after another, as ``cat a.gz b.gz`` or ``zstd`` with several frames makes.

    ``new_frame`` makes the decoder of one frame (``eof`` and ``unused_data`` as zlib's). gzip allows
    trailing zero padding (tar and tape tools write it); nothing may follow the padding.
    """

    def __init__(self, new_frame: Callable[[], Any], *, input_piece: int, zero_padding: bool) -> None:
        self._new_frame = new_frame
        self._d = new_frame()
        self.input_piece = input_piece
        self._zero_padding = zero_padding
        self._in_padding = False
        self._seen_input = False

    def decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            self._seen_input = True
            if self._d.eof:  # between frames: the rest of a piece, or a new piece after a frame's end
                if self._zero_padding and not data.strip(b"\0"):
                    self._in_padding = True  # dropped, not kept: padding costs no memory however long
                    break
                if self._in_padding:
                    raise ValueError("data after the zero padding that ends the stream")
                self._d = self._new_frame()
            out.append(self._d.decompress(data))
            if not self._d.eof:
                break
            data = self._d.unused_data
        return b"".join(out)

    def finished(self) -> bool:
        return self._seen_input and self._d.eof


def _gzip_decoder() -> _Decoder:
    # Deflate expands at most 1032:1, so 4 KiB of input make at most ~4.1 MiB.
    return _MultiFrameDecoder(lambda: zlib.decompressobj(wbits=31), input_piece=4096, zero_padding=True)


def _zstd_decoder() -> _Decoder:
    import zstandard  # noqa: PLC0415

    dctx = zstandard.ZstdDecompressor()
    # zstandard's decompressobj has no output limit, so the input is what is limited: a zstd block makes at
    # most 128 KiB and takes at least 4 bytes (an RLE block), so 128 bytes of input make at most ~4.1 MiB.
    return _MultiFrameDecoder(dctx.decompressobj, input_piece=128, zero_padding=False)


class _SnappyDecoder:
    """Snappy in the framing format (what Lightning, Dumpling and ``snzip`` read and write).

    Unlike gzip and zstd, a framed snappy writer emits nothing at all for empty content, so a 0-byte
    ``.snappy`` file is a valid, empty stream.
    """

    _HEADER = b"\xff\x06\x00\x00sNaPpY"
    # A snappy copy op of 3 bytes makes at most 64 bytes (about 21:1), so 192 KiB of input make < 4.1 MiB.
    input_piece = 192 * 1024

    def __init__(self) -> None:
        import snappy  # noqa: PLC0415

        self._d = snappy.StreamDecompressor()
        self._header_checked = False
        self._pending = b""

    def decompress(self, data: bytes) -> bytes:
        if not self._header_checked:
            self._pending += data
            if len(self._pending) < len(self._HEADER):
                return b""
            if not self._pending.startswith(self._HEADER):
                raise ValueError("not a framed snappy stream (missing the 'sNaPpY' stream header)")
            self._header_checked = True
            data, self._pending = self._pending, b""
        return self._d.decompress(data)

    def finished(self) -> bool:
        if not self._header_checked:
            return not self._pending
        return not self._d.remains


def _decoder_for(compression: Compression) -> _Decoder:
    if compression == Compression.GZ:
        return _gzip_decoder()
    if compression == Compression.ZSTD:
        return _zstd_decoder()
    if compression == Compression.SNAPPY:
        return _SnappyDecoder()
    raise ValueError(compression)


class DecompressingReader(io.RawIOBase):
    """A read-only stream of the decompressed content of a compressed file."""

    def __init__(self, raw: BinaryIO, compression: Compression, path: str, block_size: int) -> None:
        self._raw = raw
        self._decoder = _decoder_for(compression)
        self._compression = compression
        self._path = path
        self._block_size = block_size
        self._buf = b""  # decompressed, not yet handed out
        self._buf_pos = 0
        self._in = b""  # read, not yet decompressed
        self._in_pos = 0
        self._eof = False
        self.position = 0  # decompressed bytes handed out so far
        self.raw_position = 0  # compressed bytes consumed so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        while self._buf_pos >= len(self._buf):
            if self._eof:
                return 0
            self._fill()
        n = min(len(buffer), len(self._buf) - self._buf_pos)
        buffer[:n] = memoryview(self._buf)[self._buf_pos : self._buf_pos + n]  # no copy of the slice
        self._buf_pos += n
        self.position += n
        return n

    def _fill(self) -> None:
        """Decompress the next piece of input (see :data:`MAX_DECOMPRESSED_PIECE`), reading when needed."""
        name = self._compression.name.lower()
        if self._in_pos >= len(self._in):
            chunk = self._raw.read(self._block_size)
            if not chunk:
                self._eof = True
                if not self._decoder.finished():
                    if self.raw_position == 0:
                        msg = f"the file is empty (0 bytes), which is not a valid {name} stream"
                    else:
                        msg = f"the {name} stream ends before its end marker: the file is truncated"
                    raise SourceError(
                        self._path, msg + "; copy the file again from its origin", offset=self.position
                    )
                self._buf, self._buf_pos = b"", 0
                return
            if self.raw_position == 0:
                self._check_magic(chunk)
            self.raw_position += len(chunk)
            self._in, self._in_pos = chunk, 0
        piece = self._in[self._in_pos : self._in_pos + self._decoder.input_piece]
        self._in_pos += len(piece)
        try:
            self._buf = self._decoder.decompress(piece)
        except MemoryError:
            raise  # not the file's fault: never reported as corrupt data
        except Exception as exc:  # each library raises its own error type for corrupt data
            raise SourceError(
                self._path,
                f"corrupt {name} data ({exc}); copy the file again from its origin",
                offset=self.position,
            ) from exc
        self._buf_pos = 0

    def _check_magic(self, head: bytes) -> None:
        """Refuse, with a message that says so, a file that does not start as its compression must.

        A decoder's own error for it ("incorrect header check") says nothing about the usual cause: a
        plain file with a compressed file's extension.
        """
        if _starts_like(self._compression, head):
            return
        name = _FORMAT_NAMES[self._compression]
        message = f"the file is not {name} data (it does not start with {name}'s magic bytes)"
        if _looks_like_text(head):
            message += (
                "; it looks like plain text: if it is not compressed, remove the compression extension from "
                "its name (or set compression = \"\" in its [[mydumper.files]] rule)"
            )
        else:
            message += "; fix the file's extension to match its compression, or copy it again from its origin"
        raise SourceError(self._path, message, offset=0)

    def close(self) -> None:
        self._raw.close()
        super().close()


_FORMAT_NAMES = {Compression.GZ: "gzip", Compression.ZSTD: "zstd", Compression.SNAPPY: "framed snappy"}
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZSTD_SKIPPABLE_MAGIC = b"\x2a\x4d\x18"  # after a first byte 0x50..0x5f: a skippable frame


def _starts_like(compression: Compression, head: bytes) -> bool:
    """Whether ``head`` (the first bytes read, maybe fewer than a magic number) can start such a stream."""
    if compression == Compression.GZ:
        return _GZIP_MAGIC.startswith(head[:2])
    if compression == Compression.ZSTD:
        if _ZSTD_MAGIC.startswith(head[:4]):
            return True
        return 0x50 <= head[0] <= 0x5F and _ZSTD_SKIPPABLE_MAGIC.startswith(head[1:4])
    if compression == Compression.SNAPPY:
        return _SnappyDecoder._HEADER.startswith(head[: len(_SnappyDecoder._HEADER)])
    return True


def _looks_like_text(data: bytes) -> bool:
    sample = data[:512]
    if any(b < 0x20 and b not in b"\t\n\r" for b in sample):
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(sample) - 3  # only a character cut by the sample's end
    return True


def open_source_file(
    storage: Storage,
    path: str,
    compression: Compression = Compression.NONE,
    offset: int = 0,
    *,
    block_size: int = DEFAULT_READ_BLOCK_SIZE,
) -> BinaryIO:
    """Open ``path`` decompressed, positioned at byte ``offset`` of its decompressed content.

    Plain files seek there directly; compressed ones are decompressed from the start and the first
    ``offset`` bytes are skipped (compressed files are never split into chunks, so this only happens on
    resume).
    """
    if not compression.readable:
        raise SourceError(
            path, f"{compression.name.lower()} compression is not supported; use gz, zstd or snappy"
        )
    if compression == Compression.NONE:
        return io.BufferedReader(_as_raw(storage.open_raw(path, offset)), buffer_size=block_size)
    reader = DecompressingReader(storage.open_raw(path, 0), compression, path, block_size)
    stream = io.BufferedReader(reader, buffer_size=block_size)
    remaining = offset
    while remaining > 0:
        skipped = len(stream.read(min(remaining, 1 << 20)))
        if skipped == 0:
            stream.close()
            raise SourceError(path, "resume offset lies beyond the end of the file", offset=offset)
        remaining -= skipped
    return stream


MAX_SCHEMA_FILE_SIZE = 64 * 1024 * 1024
"""The largest schema file read, after decompression: it holds one CREATE statement, and no statement
longer than a server's ``max_allowed_packet`` (64 MiB by default in MySQL 8, 16 MiB in MariaDB) can run."""


def read_whole_file(storage: Storage, path: str, compression: Compression, *, limit: int, what: str) -> bytes:
    """The whole decompressed content of a small file (a schema file), refused when longer than ``limit``.

    Reads at most ``limit + 1`` bytes, so a file that inflates to gigabytes is refused in a moment and in
    bounded memory, with a message that names it and the limit rather than a decoder's out-of-memory error.
    """
    with open_source_file(storage, path, compression) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        inflated = " once decompressed" if compression != Compression.NONE else ""
        raise SourceError(
            path,
            f"the file is larger than {limit} bytes ({limit / 1048576:g} MiB){inflated}, the limit for a "
            f"{what}; it cannot be a genuine {what}: check that it is the file the dump wrote (a {what} holds "
            "one CREATE statement) and copy it again from its origin",
        )
    return data


def _as_raw(f: BinaryIO) -> io.RawIOBase:
    """Unwrap an already-buffered local file so that it isn't buffered twice."""
    if isinstance(f, io.BufferedReader):
        return f.detach()  # type: ignore[return-value]
    return f  # type: ignore[return-value]
