"""The files one UNLOAD writes to S3: each slice's part files, then the manifest.

Rows arrive as the COPY lines of ``Unload.copy_statement`` (CSV separated by U+0001, quoted by
U+0002, NULL as U+0003, so almost every value arrives as it is) and leave as Redshift writes
them: fields joined by the delimiter, NULL as the NULL AS string, and nothing escaped unless
ESCAPE asks for it. With PARALLEL ON rows go round the cluster's slices, each slice writing
``<prefix><slice>_part_<nn>``; with PARALLEL OFF one series ``<prefix><nnn>``; a compression
adds its suffix, and a file reaching MAXFILESIZE is closed for the next. Every slice writes its
file even when it has no rows, as a cluster does. Each file is streamed to S3 in multipart
parts, so memory stays bounded by a part per open file.

The manifest is written last, listing each file's URL and size (``meta.content_length``), and
with VERBOSE its row count, the result's columns, the totals and the author. ``UnloadFault``
makes a write fail, drop a file or linger, for the tests of the reader's error handling.

Everything here is blocking boto3 work: the emulator runs it in worker threads.
"""

from __future__ import annotations

import bz2
import json
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from qupersync_dagster.devkit.redshift_emulator.compat import COMPAT_SCHEMA
from qupersync_dagster.devkit.redshift_emulator.screening import Refusal
from qupersync_dagster.devkit.redshift_emulator.unload import COMPRESSIONS, Unload

PART_SIZE = 8 * 1024 * 1024  # S3 takes parts of 5 MiB and more, but for the last
_INTERNAL_ERROR = "XX000"
# How the server's COPY separates, quotes and marks NULL (see ``Unload.copy_statement``).
_SEPARATOR, _QUOTE, _NULL_MARK = b"\x01", b"\x02", b"\x03"
NOT_EMPTY_MESSAGE = (
    "Specified unload destination on S3 is not empty. Consider using a different bucket / "
    "prefix, manually removing the target files in S3, or using the ALLOWOVERWRITE option."
)


@dataclass(frozen=True)
class UnloadFault:
    """A fault for the next UNLOAD (every UNLOAD unless ``once``).

    ``fail``: error after ``files`` data files are complete, no manifest; ``drop``: the manifest
    lists a file that is then deleted; ``resize``: a listed file is rewritten shorter than its
    manifest size; ``delay``: sleep ``seconds`` before the manifest and the reply.
    """

    action: Literal["fail", "drop", "resize", "delay"]
    once: bool = True
    files: int = 0
    seconds: float = 0.0


@dataclass
class _Written:
    key: str
    size: int
    records: int


def s3_refusal(error: Exception) -> Refusal:
    """A boto3 error as Redshift reports an S3 failure."""
    response = getattr(error, "response", None)
    if not response:
        return Refusal(f"S3ServiceException:{error}", _INTERNAL_ERROR)
    details = response.get("Error", {})
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    message = details.get("Message") or str(error)
    return Refusal(
        f"S3ServiceException:{message},Status {status},Error {details.get('Code', '')}".rstrip(","),
        _INTERNAL_ERROR,
    )


class UnloadFiles:
    """Writes one UNLOAD's rows: ``prepare``, ``write`` batches, then ``finish`` or ``abort``."""

    def __init__(
        self,
        client: Any,
        unload: Unload,
        *,
        slices: int,
        cluster_region: str,
        columns: list[dict[str, Any]] | None = None,
        fault: UnloadFault | None = None,
    ) -> None:
        self._client = client
        self._unload = unload
        self._cluster_region = cluster_region
        self._columns = columns
        self._fault = fault
        self._convert = text_converter(unload)
        self._header = self._header_line()
        count = slices if unload.parallel else 1
        self._series = [_Series(self, slice_) for slice_ in range(count)]
        self._next_slice = 0
        self.rows = 0

    def prepare(self) -> None:
        """Check the bucket and the path as Redshift does before it runs the query."""
        unload, client = self._unload, self._client
        try:
            location = client.get_bucket_location(Bucket=unload.bucket)["LocationConstraint"]
            if (location or "us-east-1") != (unload.region or self._cluster_region):
                raise Refusal(
                    "S3ServiceException:The bucket you are attempting to access must be "
                    "addressed using the specified endpoint. Please send all future requests "
                    "to this endpoint.,Status 301,Error PermanentRedirect",
                    _INTERNAL_ERROR,
                )
            if not unload.allow_overwrite:
                self._clear_path()
        except Refusal:
            raise
        except Exception as error:
            raise s3_refusal(error) from error
        self._strike(0)

    def write(self, lines: list[bytes]) -> None:
        """Convert and write a batch of COPY lines, dealt round the slices."""
        count, first = len(self._series), self._next_slice
        batches = [lines[(slice_ - first) % count :: count] for slice_ in range(count)]
        self._next_slice = (first + len(lines)) % count
        self.rows += len(lines)
        self._guarded(lambda: self._write(batches))

    def finish(self) -> int:
        """Close every file, apply the fault, write the manifest; the number of rows."""
        self._guarded(self._close)
        written = [file for series in self._series for file in series.written]
        fault = self._fault
        if fault is not None and fault.action in ("drop", "resize") and written:
            self._guarded(lambda: self._damage(written[0], fault.action))
        if fault is not None and fault.action == "delay":
            time.sleep(fault.seconds)
        if self._unload.manifest:
            self._guarded(lambda: self._write_manifest(written))
        return self.rows

    def abort(self) -> None:
        """Give up the open multipart uploads; files already complete stay, as on a cluster."""
        for series in self._series:
            series.abort()

    def file_done(self) -> None:
        """Called as each data file completes: where the ``fail`` fault strikes."""
        self._strike(sum(len(series.written) for series in self._series))

    def _strike(self, done: int) -> None:
        fault = self._fault
        if fault is not None and fault.action == "fail" and done >= fault.files:
            raise Refusal(
                f"S3ServiceException:emulated failure after {done} file(s) written,Status 500,"
                "Error InternalError",
                _INTERNAL_ERROR,
            )

    def key(self, slice_: int, part: int) -> str:
        unload = self._unload
        suffix = COMPRESSIONS.get(unload.compression or "", "")
        if unload.parallel:
            return f"{unload.prefix}{slice_:04d}_part_{part:02d}{suffix}"
        return f"{unload.prefix}{part:03d}{suffix}"

    @property
    def header(self) -> bytes | None:
        return self._header

    @property
    def client(self) -> Any:
        return self._client

    @property
    def unload(self) -> Unload:
        return self._unload

    def _guarded(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Refusal:
            raise
        except Exception as error:
            raise s3_refusal(error) from error

    def _write(self, batches: list[list[bytes]]) -> None:
        for series, lines in zip(self._series, batches, strict=True):
            if lines:
                series.write(self._convert(lines), len(lines))

    def _close(self) -> None:
        for series in self._series:
            series.close()

    def _clear_path(self) -> None:
        """Refuse a path holding files, or with CLEANPATH delete them."""
        unload, client = self._unload, self._client
        keys = self._existing_keys()
        if keys and not unload.clean_path:
            raise Refusal(NOT_EMPTY_MESSAGE, _INTERNAL_ERROR)
        for start in range(0, len(keys), 1000):
            objects = [{"Key": key} for key in keys[start : start + 1000]]
            client.delete_objects(Bucket=unload.bucket, Delete={"Objects": objects})

    def _existing_keys(self) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self._unload.bucket, Prefix=self._unload.prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def _damage(self, file: _Written, action: str) -> None:
        bucket = self._unload.bucket
        if action == "drop":
            self._client.delete_object(Bucket=bucket, Key=file.key)
            return
        body = self._client.get_object(Bucket=bucket, Key=file.key)["Body"].read()
        self._client.put_object(Bucket=bucket, Key=file.key, Body=body[: len(body) // 2])

    def _write_manifest(self, written: list[_Written]) -> None:
        unload = self._unload
        entries = []
        for file in written:
            meta: dict[str, int] = {"content_length": file.size}
            if unload.verbose:
                meta["record_count"] = file.records
            entries.append({"url": unload.url(file.key), "meta": meta})
        manifest: dict[str, Any] = {"entries": entries}
        if unload.verbose:
            manifest["schema"] = {"elements": self._columns or []}
            manifest["meta"] = {
                "content_length": sum(file.size for file in written),
                "record_count": sum(file.records for file in written),
            }
            manifest["author"] = {"name": "Amazon Redshift", "version": "1.0.0"}
        body = json.dumps(manifest, indent=2).encode()
        self._client.put_object(Bucket=unload.bucket, Key=f"{unload.prefix}manifest", Body=body)

    def _header_line(self) -> bytes | None:
        if not self._unload.header:
            return None
        names = [column["name"].encode() for column in self._columns or []]
        quoted = (_QUOTE + name.replace(_QUOTE, _QUOTE * 2) + _QUOTE for name in names)
        return self._convert([_SEPARATOR.join(quoted) + b"\n"])


class _Series:
    """The files of one slice (or of a serial UNLOAD), one open at a time."""

    def __init__(self, files: UnloadFiles, slice_: int) -> None:
        self._files = files
        self._slice = slice_
        self._open: _Upload | None = None
        self.written: list[_Written] = []

    def write(self, text: bytes, records: int) -> None:
        upload = self._current()
        upload.write(text, records)
        if upload.size >= self._files.unload.max_file_size:
            self._close_current()

    def close(self) -> None:
        if self._open is None and not self.written:
            self._current()  # a slice without rows still writes its (empty) file
        self._close_current()

    def abort(self) -> None:
        if self._open is not None:
            self._open.abort()
            self._open = None

    def _current(self) -> _Upload:
        if self._open is None:
            key = self._files.key(self._slice, len(self.written))
            self._open = _Upload(self._files, key)
        return self._open

    def _close_current(self) -> None:
        if self._open is not None:
            self.written.append(self._open.complete())
            self._open = None
            self._files.file_done()


class _Upload:
    """One S3 object written as a stream: compressed, sent in multipart parts."""

    def __init__(self, files: UnloadFiles, key: str) -> None:
        self._client = files.client
        self._bucket = files.unload.bucket
        self.key = key
        self._compressor = _compressor(files.unload.compression)
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.size = 0
        self.records = 0
        header = files.header
        if header is not None:
            self.write(header, 1)

    def write(self, text: bytes, records: int) -> None:
        self.records += records
        data = self._compressor.compress(text)
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= PART_SIZE:
            self._send_part()

    def complete(self) -> _Written:
        tail = self._compressor.flush()
        self._buffer += tail
        self.size += len(tail)
        if self._upload_id is None:
            self._client.put_object(Bucket=self._bucket, Key=self.key, Body=bytes(self._buffer))
        else:
            self._send_part()
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._buffer.clear()
        return _Written(self.key, self.size, self.records)

    def abort(self) -> None:
        if self._upload_id is not None:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self.key, UploadId=self._upload_id
            )

    def _send_part(self) -> None:
        if self._upload_id is None:
            started = self._client.create_multipart_upload(Bucket=self._bucket, Key=self.key)
            self._upload_id = started["UploadId"]
        number = len(self._parts) + 1
        sent = self._client.upload_part(
            Bucket=self._bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=bytes(self._buffer),
        )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})
        self._buffer.clear()


class _Identity:
    def compress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def _compressor(compression: str | None) -> Any:
    if compression == "gzip":
        return zlib.compressobj(1, zlib.DEFLATED, 31)  # level 1: the emulator shares the CPU
    if compression == "bzip2":
        return bz2.BZ2Compressor()
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compressobj()
    return _Identity()


def text_converter(unload: Unload) -> Callable[[list[bytes]], bytes]:
    """The server's COPY lines to the text Redshift writes under ``unload``'s options.

    A batch without quoting and without NULLs -- every batch of a rendered single column -- is
    converted whole by one byte replacement; other rows are read field by field.
    """
    delimiter = unload.delimiter.encode()
    null = unload.null_as.encode()
    special = b"\n\r\\" + delimiter + (b"\"'" if unload.addquotes else b"")
    to_escape = re.compile(b"[" + re.escape(special) + b"]") if unload.escape else None
    plain = not (unload.escape or unload.addquotes)

    def field(value: bytes | None) -> bytes:
        if value is None:
            value = null
        elif to_escape is not None:
            value = to_escape.sub(lambda m: b"\\" + m[0], value)
        return b'"' + value + b'"' if unload.addquotes else value

    def convert(lines: list[bytes]) -> bytes:
        text = b"".join(lines)
        if plain and _QUOTE not in text and _NULL_MARK not in text:
            return text.replace(_SEPARATOR, delimiter)
        rows = map(_fields, lines)
        return b"".join(delimiter.join(map(field, row)) + b"\n" for row in rows)

    return convert


def _fields(line: bytes) -> list[bytes | None]:
    """One COPY line's values: quoted ones unquoted, the unquoted NULL mark as None."""
    line = line.removesuffix(b"\n")
    if _QUOTE not in line:
        return [None if value == _NULL_MARK else value for value in line.split(_SEPARATOR)]
    values: list[bytes | None] = []
    at = 0
    while True:
        if line.startswith(_QUOTE, at):
            quoted, at = bytearray(), at + 1
            while True:
                close = line.index(_QUOTE, at)
                quoted += line[at:close]
                at = close + 1
                if not line.startswith(_QUOTE, at):
                    break
                quoted += _QUOTE  # a doubled quote is one quote
                at += 1
            values.append(bytes(quoted))
        else:
            end = line.find(_SEPARATOR, at)
            end = len(line) if end < 0 else end
            value = line[at:end]
            values.append(None if value == _NULL_MARK else value)
            at = end
        if at >= len(line):
            return values
        at += 1  # the separator


def describe(conn: Any, query: str) -> list[dict[str, Any]]:
    """The result columns of ``query`` as MANIFEST VERBOSE lists them (runs it for no rows)."""
    with conn.cursor() as cur:
        cur.execute(f'SET search_path TO "$user", public, {COMPAT_SCHEMA}, pg_catalog')
        cur.execute(f"SELECT * FROM ({query}\n) AS unload_rows LIMIT 0")
        described = list(cur.description)
        cur.execute(
            "SELECT oid, CASE WHEN typname IN ('json', 'jsonb') THEN 'super'"
            " WHEN typname = 'text' THEN 'character varying'"
            " ELSE pg_catalog.format_type(oid, NULL) END"
            " FROM pg_catalog.pg_type WHERE oid = ANY (%s)",
            ([column.type_code for column in described],),
        )
        names = dict(cur.fetchall())
    elements = []
    for column in described:
        base = names.get(column.type_code, "unknown")
        kind: dict[str, Any] = {"base": base}
        if base in ("character varying", "character") and (column.internal_size or 0) > 0:
            kind["max_length"] = column.internal_size
        if base == "numeric" and column.precision is not None:
            kind["precision"], kind["scale"] = column.precision, column.scale
        elements.append({"name": column.name, "type": kind})
    return elements
