"""Usage files dropped in an S3 bucket: list, download and load them like local landing files.

Layout: `s3://BUCKET/PREFIX...` holds CSV, JSON lines or Parquet objects; an `arrival_date=YYYY-MM-DD`
segment in the key sets the arrival day, else the object's LastModified (UTC) does. Keys ending in
`.open`/`.tmp` or `/` are skipped. Each object is loaded once: the manifest (shared with local
files) holds `s3://BUCKET/KEY` with its size, sha256 and ETag; an object already loaded with the
same ETag and size is skipped without downloading it.

Configuration (environment): USAGEBILL_S3_BUCKET, USAGEBILL_S3_PREFIX, and the usual AWS variables
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION); USAGEBILL_S3_ENDPOINT_URL points
boto3 at an S3-compatible server (MinIO, moto in tests).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, date
from pathlib import Path
from typing import Any, BinaryIO

from ingestion.landing import (
    LandingFile,
    LoadReport,
    _is_ignored,
    arrival_date_of,
    ingest_files,
    read_manifest,
)

__all__ = ["list_objects", "load_s3", "new_objects", "s3_client"]


def s3_client(endpoint_url: str | None = None) -> Any:
    """A boto3 S3 client; endpoint from the argument or USAGEBILL_S3_ENDPOINT_URL (secrets from env only)."""
    import boto3

    endpoint = endpoint_url or os.environ.get("USAGEBILL_S3_ENDPOINT_URL") or None
    return boto3.client("s3", endpoint_url=endpoint)


def list_objects(client: Any, bucket: str, prefix: str = "") -> list[LandingFile]:
    """The loadable objects under s3://bucket/prefix, sorted by key."""
    files: list[LandingFile] = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/") or _is_ignored(key):
                continue
            modified = item["LastModified"].astimezone(UTC)
            name = f"s3://{bucket}/{key}"
            files.append(
                LandingFile(
                    source_file=name,
                    size=int(item["Size"]),
                    arrived_at=modified.replace(microsecond=0),
                    arrival_date=arrival_date_of(key, modified),
                    open=_opener(client, bucket, key),
                    etag=str(item.get("ETag", "")).strip('"') or None,
                )
            )
    files.sort(key=lambda f: f.source_file)
    return files


def _opener(client: Any, bucket: str, key: str) -> Callable[[], contextlib.AbstractContextManager[BinaryIO]]:
    @contextlib.contextmanager
    def open_object() -> Iterator[BinaryIO]:
        # download to a temporary file: bounded memory, and seekable for Parquet
        with tempfile.TemporaryFile() as handle:
            client.download_fileobj(bucket, key, handle)
            handle.seek(0)
            yield handle  # type: ignore[misc]

    return open_object


def new_objects(client: Any, bucket: str, prefix: str, raw_dir: Path) -> list[LandingFile]:
    """Objects not yet in the manifest with the same ETag and size (what a sensor should load)."""
    known = {(r["source_file"], r["etag"], r["size_bytes"]) for r in read_manifest(Path(raw_dir))}
    return [f for f in list_objects(client, bucket, prefix) if (f.source_file, f.etag, f.size) not in known]


def load_s3(
    bucket: str,
    prefix: str,
    raw_dir: Path,
    *,
    arrival_dates: list[date] | None = None,
    client: Any | None = None,
    endpoint_url: str | None = None,
    progress: Callable[[str], None] = print,
) -> LoadReport:
    """Load every not-yet-loaded object under s3://bucket/prefix into the raw layer."""
    client = client or s3_client(endpoint_url)
    files = list_objects(client, bucket, prefix)
    if arrival_dates is not None:
        wanted = set(arrival_dates)
        files = [f for f in files if f.arrival_date in wanted]
    return ingest_files(files, Path(raw_dir), default_source="s3", progress=progress)
