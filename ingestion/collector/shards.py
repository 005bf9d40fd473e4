"""Shard ownership between the worker processes of one collector (``usagebill collector --workers N``).

Every dedup key (blake2b of tenant_id NUL event_id) belongs to exactly one worker:
``shard_of(key, N)``. Only the owner decides whether a key is new (``accepted``) or seen
(``duplicate``) and only the owner lands it, in its own segments, fsync'd before it answers. A
worker that received an event owned by another sends the encoded line and its key to the owner
over a Unix socket (``<run dir>/shard-<i>.sock``, the run dir is private to the supervisor, mode
0700) and waits for the owner's durable answer. So two copies of one event sent to two workers meet
in one place: one ``accepted``, one ``duplicate``.

Frames: 4-byte big-endian length + msgpack. Request ``[id, keys, lines]``: the 16-byte keys
joined into one byte string, the landed lines (newline-terminated) joined into another (lines
null: a check that lands nothing, used by the Lago API before it lands a batch): one message per
owner and request, two byte strings whatever the number of events. Answer ``[id, ok,
duplicate_positions | error]``. An owner that is down or answers nothing within the timeout makes
the request fail with 503 + Retry-After (nothing acknowledged; lines the owner did land are
answered ``duplicate`` on the retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec

from ingestion.collector.landing_log import DIGEST_SIZE, LogBusyError

_HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024
_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder()

# the owner's side: (keys, lines joined) -> positions of the keys that were duplicates, once
# durable (lines None: only say which keys are known, land nothing)
CommitHandler = Callable[[list[bytes], bytes | None], Awaitable[list[int]]]
KEY_SIZE = DIGEST_SIZE


def split_keys(blob: bytes) -> list[bytes]:
    """The 16-byte keys of a joined key string (C-level slicing)."""
    if len(blob) % KEY_SIZE:
        raise ValueError(f"a key string of {len(blob)} bytes is not a multiple of {KEY_SIZE}")
    ends = range(KEY_SIZE, len(blob) + KEY_SIZE, KEY_SIZE)
    return list(map(blob.__getitem__, map(slice, range(0, len(blob), KEY_SIZE), ends)))


def socket_path(run_dir: Path, shard: int) -> Path:
    return run_dir / f"shard-{shard}.sock"


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if size > MAX_FRAME:
        raise ValueError(f"shard frame of {size} bytes is over the {MAX_FRAME} limit")
    return _DEC.decode(await reader.readexactly(size))


def _frame(value: Any) -> bytes:
    data = _ENC.encode(value)
    return _HEADER.pack(len(data)) + data


class ShardServer:
    """The owner's endpoint: answers commit requests of the other workers."""

    def __init__(self, run_dir: Path, shard: int, handler: CommitHandler) -> None:
        self.path = socket_path(run_dir, shard)
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a killed predecessor of this shard
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lock = asyncio.Lock()

        async def one(req_id: int, keys: bytes, lines: bytes | None) -> None:
            try:
                dups = await self.handler(split_keys(keys), lines)
                answer = [req_id, True, dups]
            except Exception as exc:  # noqa: BLE001 - the requester answers 503 with this text
                answer = [req_id, False, f"{type(exc).__name__}: {exc}"]
            async with lock:
                writer.write(_frame(answer))
                with contextlib.suppress(ConnectionError):
                    await writer.drain()

        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                req_id, keys, lines = await _read_frame(reader)
                task = asyncio.create_task(one(req_id, keys, lines))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


class ShardClient:
    """A worker's connection to one owner; requests are pipelined and matched by id."""

    def __init__(self, run_dir: Path, shard: int, timeout: float = 30.0) -> None:
        self.path = socket_path(run_dir, shard)
        self.shard = shard
        self.timeout = timeout
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[list[int]]] = {}
        self._next = 0
        self._connect_lock = asyncio.Lock()

    async def _connect(self) -> asyncio.StreamWriter:
        async with self._connect_lock:
            if self._writer is None or self._writer.is_closing():
                reader, writer = await asyncio.open_unix_connection(str(self.path))
                self._writer = writer
                self._reader_task = asyncio.create_task(self._read_answers(reader, writer))
            return self._writer

    async def _read_answers(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        error: BaseException = ConnectionError(f"worker {self.shard} closed the connection")
        try:
            while True:
                req_id, ok, payload = await _read_frame(reader)
                fut = self._pending.pop(req_id, None)
                if fut is None or fut.done():
                    continue
                if ok:
                    fut.set_result(payload)
                else:
                    fut.set_exception(LogBusyError(f"worker {self.shard} could not land: {payload}"))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            error = exc
        finally:
            writer.close()
            if self._writer is writer:
                self._writer = None
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(LogBusyError(f"worker {self.shard} is not reachable ({error})"))
            self._pending.clear()

    async def commit(self, keys: list[bytes], lines: bytes | None) -> list[int]:
        """Positions (in ``keys``) of the keys the owner found already accepted; the others are
        durable in the owner's landing log when this returns. ``lines``: the landed line of each
        key, joined (None: nothing is landed, the owner only says which keys it has).
        LogBusyError when the owner is down."""
        try:
            writer = await self._connect()
        except OSError as exc:
            raise LogBusyError(f"worker {self.shard} is not reachable ({exc}); retry") from exc
        self._next += 1
        req_id = self._next
        fut: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        writer.write(_frame([req_id, b"".join(keys), lines]))
        try:
            async with asyncio.timeout(self.timeout):
                await writer.drain()
                return await fut
        except TimeoutError as exc:
            self._pending.pop(req_id, None)
            raise LogBusyError(
                f"worker {self.shard} did not answer within {self.timeout:g} s; retry"
            ) from exc
        except ConnectionError as exc:
            self._pending.pop(req_id, None)
            raise LogBusyError(f"worker {self.shard} is not reachable ({exc}); retry") from exc

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
