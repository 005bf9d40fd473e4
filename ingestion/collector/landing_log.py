"""The collector's durable landing log: group-committed, fsync'd, rotated, recovered.

Layout (all under DATA_DIR):
- ``landing/usage/collector/<segment>.jsonl.open``: the segment being written. Accepted events are
  appended and fsync'd before any HTTP answer that acknowledges them.
- ``landing/usage/collector/<segment>.jsonl``: sealed segments (renamed on size/time rotation, on
  clean shutdown, and at start for segments a crash left open). The landing loader reads only these.
- ``quarantine/collector-YYYY-MM-DD.jsonl``: rejected events with their reason, fsync'd in the same
  group commit as the landing bytes.
- ``collector/index/<segment>.ids``: 16-byte digests of (tenant_id, event_id) of each sealed segment,
  so the dedup index is rebuilt at start without re-parsing every segment (a missing or torn .ids
  file is rebuilt from its segment).

Group commit: requests stage their bytes and await the future of the current group; one flusher
writes and fsyncs a whole group in a worker thread while the next group accumulates.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import functools
import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import itemgetter
from pathlib import Path

import orjson

from ingestion.durable import fsync_dir

OPEN_SUFFIX = ".jsonl.open"
SEALED_SUFFIX = ".jsonl"
DIGEST_SIZE = 16


_KEY_HASH = hashlib.blake2b(digest_size=DIGEST_SIZE)  # copied per key: cheaper than a new object
new_key_hash = _KEY_HASH.copy  # a fresh blake2b-128 hasher; event_key(t, e) = it fed "t\0e"


def shard_of(key: bytes, shards: int) -> int:
    """The worker that owns a dedup key when ``shards`` workers share the port (collector
    ``--workers``): the key's first 8 bytes (of a blake2b digest: uniform) modulo ``shards``."""
    return int.from_bytes(key[:8], "big") % shards


_FIRST_8 = itemgetter(slice(0, 8))


def shards_of(keys: list[bytes], shards: int) -> list[int]:
    """`shard_of` of each key, in C-level loops (one call per batch)."""
    return list(map(int.__mod__, map(int.from_bytes, map(_FIRST_8, keys), repeat("big")), repeat(shards)))


_BYTE_7 = itemgetter(7)


@functools.cache
def _table(shards: int, shard: int | None = None) -> bytes:
    """bytes.translate table: byte b -> b % shards (shard None), or -> 1 if b == shard else 0."""
    if shard is None:
        return bytes(b % shards for b in range(256))
    return bytes(int(b == shard) for b in range(256))


def shard_masks(keys: list[bytes], shards: int) -> dict[int, Iterable[int]]:
    """For each worker owning some of ``keys``: a mask (1 where `shard_of(key, shards)` is that
    worker) for `itertools.compress`. Built with C-level loops: when ``shards`` divides 256, the
    first 8 bytes of a key modulo ``shards`` is its 8th byte modulo ``shards``."""
    if shards > 256:
        owners_list = shards_of(keys, shards)
        return {s: list(map(s.__eq__, owners_list)) for s in set(owners_list)}
    if 256 % shards == 0:
        owners = bytes(map(_BYTE_7, keys)).translate(_table(shards))
    else:
        owners = bytes(shards_of(keys, shards))
    return {s: owners.translate(_table(shards, s)) for s in set(owners)}


def event_key(tenant_id: str, event_id: str) -> bytes:
    """Fixed-size dedup key of (tenant_id, event_id): blake2b-128 (collision odds ~n^2/2^129)."""
    h = new_key_hash()
    h.update(f"{tenant_id}\x00{event_id}".encode())
    return h.digest()


def archive_path(data_dir: Path, segment_name: str) -> Path:
    """Where the landing loader moves a loaded segment: DATA_DIR/archive/usage/collector/
    YYYY-MM-DD/<name>.jsonl (the day of its name's UTC creation stamp)."""
    stem = segment_name.removesuffix(SEALED_SUFFIX)
    day = f"{stem[0:4]}-{stem[4:6]}-{stem[6:8]}" if len(stem) >= 8 and stem[:8].isdigit() else "unknown"
    return data_dir / "archive" / "usage" / "collector" / day / f"{stem}{SEALED_SUFFIX}"


class LogFailedError(RuntimeError):
    """The landing log could not write or fsync; the collector answers 503 until restarted."""


class LogBusyError(LogFailedError):
    """One group could not be written for a passing reason (no file descriptor left, disk full);
    nothing of it is in the log (a partial write was cut back) and the log goes on: retry."""


# errors that leave the files as they were once a partial write is cut back: the next group may
# succeed (e.g. file descriptors freed by closed connections). Any other error, and any fsync
# error (the page cache state is then unknown), fails the log for good.
TRANSIENT_ERRNOS = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOSPC, errno.EDQUOT, errno.ENOMEM, errno.EAGAIN, errno.EINTR}
)


class _TransientError(Exception):
    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS


def _append(fd: int, data: bytes, size_before: int) -> None:
    """Append ``data``; on a transient error cut the file back to ``size_before`` (so no torn
    line stays) and raise _TransientError; when even that fails the error propagates (fatal)."""
    try:
        _write_all(fd, data)
    except OSError as exc:
        if not _transient(exc):
            raise
        os.ftruncate(fd, size_before)
        raise _TransientError(exc) from exc


@dataclass
class RecoveryReport:
    sealed_open_segments: int = 0
    truncated_bytes: int = 0
    indexed_segments: int = 0
    indexed_keys: int = 0
    rebuilt_index_files: int = 0


@dataclass
class _Segment:
    name: str  # without suffix
    fd: int
    created: float
    size: int = 0
    keys: list[bytes] = field(default_factory=list)


class DedupIndex:
    """Bounded set of recent event keys, evicted oldest segment first.

    Horizon: the newest ``max_keys`` keys (whole segments) are kept. Older duplicates are not seen
    here; the warehouse journal deduplicates across all history."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._keys: set[bytes] = set()
        self._segments: deque[tuple[str, list[bytes]]] = deque()
        self._count = 0

    def __contains__(self, key: bytes) -> bool:
        return key in self._keys

    def intersection(self, keys: Iterable[bytes]) -> set[bytes]:
        """The ``keys`` that are in the index."""
        return self._keys.intersection(keys)

    def isdisjoint(self, keys: Iterable[bytes]) -> bool:
        """True when none of ``keys`` is in the index (one C-level pass)."""
        return self._keys.isdisjoint(keys)

    def membership(self) -> Callable[[bytes], bool]:
        """``key in index`` as a C-level callable (for loops over every event of a batch)."""
        return self._keys.__contains__

    def __len__(self) -> int:
        return len(self._keys)

    def add_pending(self, key: bytes) -> None:
        self._keys.add(key)

    def add_pending_many(self, keys: Iterable[bytes]) -> None:
        self._keys.update(keys)

    def discard(self, keys: Iterable[bytes]) -> None:
        for k in keys:
            self._keys.discard(k)

    def add_segment(self, name: str, keys: list[bytes], *, already_in_set: bool) -> list[str]:
        """Register a sealed segment's keys; return names of segments evicted past the horizon."""
        if not already_in_set:
            self._keys.update(keys)
        self._segments.append((name, keys))
        self._count += len(keys)
        evicted: list[str] = []
        while self._count > self.max_keys and len(self._segments) > 1:
            old_name, old_keys = self._segments.popleft()
            self._count -= len(old_keys)
            for k in old_keys:
                self._keys.discard(k)
            evicted.append(old_name)
        return evicted


class LandingLog:
    def __init__(
        self,
        data_dir: Path,
        *,
        max_segment_bytes: int = 64 * 1024 * 1024,
        max_segment_age: float = 60.0,
        dedup_horizon_keys: int = 5_000_000,
        fsync: bool = True,
        shard: tuple[int, int] | None = None,
    ) -> None:
        """``shard`` = (i, n): this log is worker i of n sharing the data dir (collector
        ``--workers n``): it keeps only the keys of shard i in its index, tags its segments
        ``-s<i>`` and, at start, seals only its own leftover segments and deletes no key file
        (the supervisor ran the full `recover` before starting the workers)."""
        self.data_dir = data_dir
        self.shard = shard
        self._created: set[str] = set()  # segments this process wrote (the only .ids it may evict)
        self.landing_dir = data_dir / "landing" / "usage" / "collector"
        self.quarantine_dir = data_dir / "quarantine"
        self.index_dir = data_dir / "collector" / "index"
        for d in (self.landing_dir, self.quarantine_dir, self.index_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.max_segment_bytes = max_segment_bytes
        self.max_segment_age = max_segment_age
        self.fsync = fsync
        self.index = DedupIndex(dedup_horizon_keys)
        self._seq = 0
        self._segment: _Segment | None = None
        self._q_fd: int | None = None
        self._q_day = ""
        # group commit state
        self._pending_lines: list[bytes] = []
        self._pending_keys: list[bytes] = []
        self._pending_quarantine: list[bytes] = []
        self._group_future: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._rotator: asyncio.Task[None] | None = None
        self._closing = False
        self._seal_requested = False
        self.failed: BaseException | None = None
        self.last_transient_error: str | None = None
        self._q_size = 0
        self.stats = {
            "groups": 0,
            "fsyncs": 0,
            "sealed_segments": 0,
            "bytes_landed": 0,
            "transient_failures": 0,
        }

    # ---------------------------------------------------------------- recovery (sync, at start)
    def recover(self) -> RecoveryReport:
        """Seal segments a crash left open (after cutting a torn last line) and rebuild the index."""
        report = RecoveryReport()
        tag = f"-s{self.shard[0]}{OPEN_SUFFIX}" if self.shard else OPEN_SUFFIX
        for path in sorted(self.landing_dir.glob(f"*{tag}")):
            report.truncated_bytes += _truncate_torn_tail(path)
            sealed = path.with_name(path.name[: -len(".open")])
            if self.fsync:
                with open(path, "rb+") as fh:
                    os.fsync(fh.fileno())
            os.replace(path, sealed)
            report.sealed_open_segments += 1
        if self.fsync and report.sealed_open_segments:
            fsync_dir(self.landing_dir)
        # every sealed segment still in the landing zone must have an .ids file
        for path in sorted(self.landing_dir.glob(f"*{SEALED_SUFFIX}")):
            name = path.name[: -len(SEALED_SUFFIX)]
            ids_path = self.index_dir / f"{name}.ids"
            if not ids_path.exists():
                _write_ids(ids_path, _keys_from_segment(path), fsync=self.fsync)
                report.rebuilt_index_files += 1
        # load newest segments first up to the horizon, then register oldest -> newest
        chosen: list[tuple[str, list[bytes]]] = []
        total = 0
        for ids_path in sorted(self.index_dir.glob("*.ids"), reverse=True):
            keys = _read_ids(ids_path)
            if keys is None:  # empty, torn or old .ids: rebuild from the segment (landing or archive)
                seg = self.landing_dir / f"{ids_path.stem}{SEALED_SUFFIX}"
                if not seg.exists():
                    seg = archive_path(self.data_dir, ids_path.stem)
                if not seg.exists():
                    if self.shard is None:
                        ids_path.unlink()
                    continue
                keys = _keys_from_segment(seg)
                _write_ids(ids_path, keys, fsync=self.fsync)
                report.rebuilt_index_files += 1
            if self.shard is not None:
                i, n = self.shard
                keys = [k for k in keys if shard_of(k, n) == i]
            if total >= self.index.max_keys:
                if self.shard is None:
                    ids_path.unlink()  # past the horizon
                continue
            chosen.append((ids_path.stem, keys))
            total += len(keys)
        for name, keys in reversed(chosen):
            for evicted in self.index.add_segment(name, keys, already_in_set=False):
                self._evict_ids(evicted)
        report.indexed_segments = len(chosen)
        report.indexed_keys = len(self.index)
        return report

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._flusher = asyncio.create_task(self._flush_loop(), name="landing-flusher")
        self._rotator = asyncio.create_task(self._rotate_loop(), name="landing-rotator")

    async def close(self) -> None:
        """Flush what is staged, seal the open segment (clean shutdown)."""
        self._closing = True
        if self._rotator:
            self._rotator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rotator
        if self._wakeup:
            self._wakeup.set()
        if self._flusher:
            await self._flusher
        if self.failed is None:
            await asyncio.to_thread(self._seal_current)
        if self._q_fd is not None:
            os.close(self._q_fd)
            self._q_fd = None

    # ---------------------------------------------------------------- staging (event loop)
    def stage(self, lines: list[bytes], keys: list[bytes], quarantine: list[bytes]) -> asyncio.Future[None]:
        """Stage accepted lines (their keys already checked against the index) and quarantine lines.
        Returns the future of the group that makes them durable; await it before answering."""
        if self.failed is not None:
            raise LogFailedError(f"landing log failed earlier: {self.failed}; restart the collector")
        self.index.add_pending_many(keys)
        self._pending_lines.extend(lines)
        self._pending_keys.extend(keys)
        self._pending_quarantine.extend(quarantine)
        if self._group_future is None:
            self._group_future = asyncio.get_running_loop().create_future()
        assert self._wakeup is not None
        self._wakeup.set()
        return self._group_future

    async def _flush_loop(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._group_future is None and not self._seal_requested:
                if self._closing:
                    return
                continue
            lines, keys, quarantine = self._pending_lines, self._pending_keys, self._pending_quarantine
            fut = self._group_future
            seal = self._seal_requested
            self._pending_lines, self._pending_keys, self._pending_quarantine = [], [], []
            self._group_future = None
            self._seal_requested = False
            try:
                await asyncio.to_thread(self._write_group, lines, keys, quarantine, seal)
            except _TransientError as exc:
                # nothing of this group is in the log; its requests get 503 and retry
                self.stats["transient_failures"] += 1
                self.last_transient_error = str(exc)
                self.index.discard(keys)
                if fut is not None and not fut.done():
                    fut.set_exception(LogBusyError(f"could not write the landing log now ({exc})"))
                if self._closing and self._group_future is None:
                    return
                if self._group_future is not None:
                    self._wakeup.set()
                continue
            except BaseException as exc:  # noqa: BLE001 - any other I/O failure fails the log
                self.failed = exc
                self.index.discard(keys)
                if fut is not None and not fut.done():
                    fut.set_exception(LogFailedError(f"could not write the landing log: {exc}"))
                if self._group_future is not None and not self._group_future.done():
                    self.index.discard(self._pending_keys)
                    self._group_future.set_exception(LogFailedError(f"landing log failed: {exc}"))
                    self._group_future = None
                return
            if fut is not None and not fut.done():
                fut.set_result(None)
            if self._closing and self._group_future is None:
                return
            if self._group_future is not None:
                self._wakeup.set()

    async def _rotate_loop(self) -> None:
        assert self._wakeup is not None
        while True:
            await asyncio.sleep(min(1.0, self.max_segment_age / 2))
            seg = self._segment
            if seg is not None and seg.size > 0 and time.time() - seg.created >= self.max_segment_age:
                # sealing runs in the flusher (never concurrently with a group write)
                self._seal_requested = True
                self._wakeup.set()

    # ---------------------------------------------------------------- I/O (worker thread)
    def _open_segment(self) -> _Segment:
        now = time.time()
        self._seq += 1
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{os.getpid()}-{self._seq:06d}" + (f"-s{self.shard[0]}" if self.shard else "")
        self._created.add(name)
        path = self.landing_dir / f"{name}{OPEN_SUFFIX}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            if _transient(exc):
                raise _TransientError(exc) from exc
            raise
        try:
            if self.fsync:
                fsync_dir(self.landing_dir)
        except OSError as exc:
            os.close(fd)
            path.unlink()
            if _transient(exc):
                raise _TransientError(exc) from exc
            raise
        return _Segment(name=name, fd=fd, created=now)

    def _quarantine_fd(self) -> int:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        if self._q_fd is None or day != self._q_day:
            if self._q_fd is not None:
                os.close(self._q_fd)
                self._q_fd = None
            path = self.quarantine_dir / f"collector-{day}.jsonl"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                try:
                    if self.fsync:
                        fsync_dir(self.quarantine_dir)
                    self._q_size = os.fstat(fd).st_size
                except OSError:
                    os.close(fd)
                    raise
            except OSError as exc:
                if _transient(exc):
                    raise _TransientError(exc) from exc
                raise
            self._q_fd = fd
            self._q_day = day
        return self._q_fd

    def _write_group(
        self, lines: list[bytes], keys: list[bytes], quarantine: list[bytes], seal: bool
    ) -> None:
        if quarantine:
            qfd = self._quarantine_fd()
            qdata = b"".join(quarantine)
            # workers of one collector (--workers) append to the same file: the lock makes
            # "size before" exact, so cutting back a failed write never cuts another's lines
            fcntl.flock(qfd, fcntl.LOCK_EX)
            try:
                self._q_size = os.fstat(qfd).st_size
                _append(qfd, qdata, self._q_size)
            finally:
                fcntl.flock(qfd, fcntl.LOCK_UN)
            if self.fsync:
                os.fsync(qfd)
                self.stats["fsyncs"] += 1
            self._q_size += len(qdata)
        if lines:
            if self._segment is None:
                self._segment = self._open_segment()
            seg = self._segment
            data = b"".join(lines)
            _append(seg.fd, data, seg.size)
            if self.fsync:
                os.fdatasync(seg.fd)
                self.stats["fsyncs"] += 1
            seg.size += len(data)
            seg.keys.extend(keys)
            self.stats["bytes_landed"] += len(data)
            if seg.size >= self.max_segment_bytes:
                seal = True
        if seal:
            self._seal_current()
        self.stats["groups"] += 1

    def _seal_current(self) -> None:
        seg = self._segment
        if seg is None:
            return
        self._segment = None
        os.close(seg.fd)
        open_path = self.landing_dir / f"{seg.name}{OPEN_SUFFIX}"
        if seg.size == 0:
            open_path.unlink()
            return
        os.replace(open_path, self.landing_dir / f"{seg.name}{SEALED_SUFFIX}")
        try:
            if self.fsync:
                fsync_dir(self.landing_dir)
            _write_ids(self.index_dir / f"{seg.name}.ids", seg.keys, fsync=self.fsync)
        except OSError as exc:
            # the segment's bytes are fsync'd under one name or the other (a crash re-seals an
            # .open leftover); a missing .ids file is rebuilt from the segment at start
            if not _transient(exc):
                raise
            self.stats["transient_failures"] += 1
            self.last_transient_error = f"sealing {seg.name}: {exc}"
        for evicted in self.index.add_segment(seg.name, seg.keys, already_in_set=True):
            self._evict_ids(evicted)
        self.stats["sealed_segments"] += 1

    def _evict_ids(self, name: str) -> None:
        """Delete the key file of a segment past the horizon; a shard worker deletes only those of
        segments it wrote (other workers' files hold keys of their shards)."""
        if self.shard is None or name in self._created:
            self._created.discard(name)
            with contextlib.suppress(FileNotFoundError):
                (self.index_dir / f"{name}.ids").unlink()

    # ---------------------------------------------------------------- metrics
    def lag_seconds(self) -> dict[str, float]:
        """Age of the open segment (unsealed) and of the oldest sealed segment still in the landing
        folder (not yet picked up by the loader), in seconds; 0 when there is none."""
        now = time.time()
        seg = self._segment
        unsealed = now - seg.created if seg is not None and seg.size > 0 else 0.0
        oldest = 0.0
        with contextlib.suppress(OSError):
            sealed = sorted(self.landing_dir.glob(f"*{SEALED_SUFFIX}"))
            if sealed:
                oldest = max(0.0, now - sealed[0].stat().st_mtime)
        return {"unsealed": unsealed, "oldest_sealed": oldest}


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _truncate_torn_tail(path: Path) -> int:
    """Cut everything after the last newline (a write torn by a crash was never acknowledged)."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as fh:
        # scan backwards in chunks for the last newline
        pos = size
        chunk = 64 * 1024
        keep = 0
        while pos > 0:
            start = max(0, pos - chunk)
            fh.seek(start)
            buf = fh.read(pos - start)
            idx = buf.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            pos = start
        if keep < size:
            fh.truncate(keep)
            os.fsync(fh.fileno())
        return size - keep


def _keys_from_segment(path: Path) -> list[bytes]:
    keys: list[bytes] = []
    with open(path, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            obj = orjson.loads(line)
            keys.append(event_key(obj["tenant_id"], obj["event_id"]))
    return keys


IDS_MAGIC = b"UBIDS\x00\x01\n"  # version 1: magic, the 16-byte keys, blake2b-16 of the keys


def _write_ids(path: Path, keys: list[bytes], *, fsync: bool = True) -> None:
    """Write a segment's key file atomically: fsync'd before the rename (a crash never leaves an
    empty file under the final name), with a checksum trailer so a torn or empty file is detected
    and rebuilt from its segment instead of trusted."""
    body = b"".join(keys)
    tmp = path.with_suffix(f".ids.{os.getpid()}.tmp")  # unique: two workers may rebuild one file
    with open(tmp, "wb") as fh:
        fh.write(IDS_MAGIC + body + hashlib.blake2b(body, digest_size=DIGEST_SIZE).digest())
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)
    if fsync:
        fsync_dir(path.parent)


def _read_ids(path: Path) -> list[bytes] | None:
    """The keys of a key file, or None when it is empty, torn, of an older format or corrupt."""
    data = path.read_bytes()
    n = len(data) - len(IDS_MAGIC) - DIGEST_SIZE
    if n < 0 or n % DIGEST_SIZE or not data.startswith(IDS_MAGIC):
        return None
    body = data[len(IDS_MAGIC) : len(IDS_MAGIC) + n]
    if hashlib.blake2b(body, digest_size=DIGEST_SIZE).digest() != data[len(IDS_MAGIC) + n :]:
        return None
    return [body[i : i + DIGEST_SIZE] for i in range(0, n, DIGEST_SIZE)]
