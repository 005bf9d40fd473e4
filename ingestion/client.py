"""usagebill client SDK: record usage from an application, delivered reliably to the collector.

    from ingestion.client import UsageClient

    client = UsageClient("http://127.0.0.1:8080", os.environ["USAGEBILL_API_KEY"], spool_dir="/var/lib/app/usage")
    client.record("cus_a", "gpu_ms", "2457", dimensions={"gpu_type": "a100"})
    client.close()   # or let atexit flush

Guarantees (docs/sdk.md):
- ``record()`` returns only after the event is appended to the on-disk spool and fsync'd, so it
  survives a collector outage and a crash or restart of the calling process; spooled events are
  sent again by the next client started on the same spool_dir.
- Each event gets its id once (the caller's, or a uuid4 generated in ``record()`` and spooled with
  the event), so a resend is answered ``duplicate`` by the collector, never counted twice.
- Batches go out when ``batch_size`` events are waiting or every ``flush_interval`` seconds, from a
  background thread; connection errors, 429 and 5xx are retried with exponential backoff and full
  jitter. Nothing is ever dropped: after ``max_retries`` the batch stays spooled and is tried again.
- One bad event never blocks the others: an event the collector answers ``rejected`` goes to
  ``spool_dir/dead-letter.jsonl`` with its reason; a batch refused as a whole (400, 413, 422, or
  a 500 that persists through the retries) is split in halves until the refused event is alone,
  which is dead-lettered with the answer; everything after it is delivered.
- Quantities are exact: ``Decimal``, ``int`` or a decimal ``str``. A ``float`` raises TypeError
  (its exact value is already lost; pass ``Decimal("0.1")`` or ``"0.1"``).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ingestion.durable import fsync_dir
from ingestion.event_record import event_record

log = logging.getLogger("usagebill.client")

_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
# answers that refuse the request because of its content: split the batch to find the culprit
_CONTENT_REFUSED = {400, 413, 422}
MAX_KEPT_REJECTIONS = 1000
DEAD_LETTER_FILE = "dead-letter.jsonl"


class DeliveryError(RuntimeError):
    """Events could not be delivered yet (they stay in the spool and are retried)."""


@dataclass(frozen=True)
class _Pending:
    seq: int  # spool file number
    line: int  # line index in that file
    data: bytes  # the JSON object, no newline
    event_id: str


def _quantity_text(quantity: Any) -> str | None:
    if quantity is None:
        return None
    if isinstance(quantity, bool):
        raise TypeError("quantity: a boolean is not a quantity; pass Decimal, int or a decimal string")
    if isinstance(quantity, float):
        raise TypeError(
            f"quantity: {quantity!r} is a binary float whose exact value is lost; pass Decimal({str(quantity)!r}) "
            f"or the string {str(quantity)!r} instead"
        )
    if isinstance(quantity, int):
        return str(quantity)
    if isinstance(quantity, Decimal):
        if not quantity.is_finite():
            raise ValueError(f"quantity: {quantity} is not a finite number")
        return format(quantity, "f")
    if isinstance(quantity, str):
        try:
            Decimal(quantity)
        except ArithmeticError as exc:
            raise ValueError(f"quantity: {quantity!r} is not a decimal number") from exc
        return quantity
    raise TypeError(
        f"quantity: {type(quantity).__name__} is not supported; pass Decimal, int or a decimal string"
    )


def _timestamp_text(timestamp: datetime | str | None) -> str:
    if timestamp is None:
        timestamp = datetime.now(UTC)
    if isinstance(timestamp, str):
        return timestamp
    if timestamp.tzinfo is None:
        raise ValueError("timestamp: a naive datetime has no time zone; pass an aware datetime (e.g. tz=UTC)")
    text = timestamp.astimezone(UTC).isoformat()
    return text[:-6] + "Z"


class UsageClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        spool_dir: str | os.PathLike[str],
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_retries: int = 8,
        backoff_base: float = 0.2,
        backoff_cap: float = 30.0,
        timeout: float = 30.0,
        source: str = "sdk-python",
        spool_file_events: int = 10_000,
        flush_on_exit_timeout: float = 10.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size: must be >= 1")
        self.url = base_url.rstrip("/") + "/v1/events"
        self._api_key = api_key
        self.spool_dir = Path(spool_dir)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.timeout = timeout
        self.source = source
        self.spool_file_events = spool_file_events
        self.flush_on_exit_timeout = flush_on_exit_timeout
        self.rejections: list[dict[str, Any]] = []  # last answers of rejected events (at most 1,000)
        self.dead_letter_path = Path(spool_dir) / DEAD_LETTER_FILE
        self.dead_lettered = 0
        self.last_error: str | None = None
        self.sent = {"accepted": 0, "duplicate": 0, "rejected": 0}

        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fh = open(self.spool_dir / "lock", "a+b")  # noqa: SIM115 - held for the client's life
        try:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_fh.close()
            raise RuntimeError(
                f"spool_dir {self.spool_dir} is used by another live UsageClient; give each process its own spool_dir"
            ) from exc
        self._cond = threading.Condition()
        self._pending: deque[_Pending] = deque()
        self._in_flight = 0
        self._closed = False
        self._load_spool()
        self._open_new_spool_file()
        self._thread = threading.Thread(target=self._run, name="usagebill-client", daemon=True)
        self._thread.start()
        atexit.register(self._atexit)

    # ------------------------------------------------------------------ spool
    def _spool_files(self) -> list[tuple[int, Path]]:
        out = []
        for p in self.spool_dir.glob("spool-*.jsonl"):
            with contextlib.suppress(ValueError):
                out.append((int(p.stem.split("-")[1]), p))
        return sorted(out)

    def _read_cursor(self) -> tuple[int, int]:
        try:
            raw = json.loads((self.spool_dir / "cursor.json").read_text())
            return int(raw["seq"]), int(raw["line"])
        except (FileNotFoundError, ValueError, KeyError):
            return 0, 0

    def _write_cursor(self, seq: int, line: int) -> None:
        tmp = self.spool_dir / "cursor.json.tmp"
        tmp.write_text(json.dumps({"seq": seq, "line": line}))
        os.replace(tmp, self.spool_dir / "cursor.json")
        # a lost cursor only means resending acknowledged events, which the collector answers
        # `duplicate`; so no fsync is needed here

    def _load_spool(self) -> None:
        cur_seq, cur_line = self._read_cursor()
        self._seq = 0
        for seq, path in self._spool_files():
            self._seq = max(self._seq, seq)
            if seq < cur_seq:
                path.unlink()
                continue
            data = path.read_bytes()
            lines = data.split(b"\n")
            # the last element is b"" after a final newline, or a torn write record() never returned from
            for i, line in enumerate(lines[:-1]):
                if seq == cur_seq and i < cur_line:
                    continue
                if not line.strip():
                    continue
                try:
                    event_id = json.loads(line)["event_id"]
                except (ValueError, KeyError):
                    log.warning("spool %s line %d is not an event; skipped", path, i + 1)
                    continue
                self._pending.append(_Pending(seq, i, line, event_id))
        if self._pending:
            log.info("usagebill client: %d spooled event(s) to resend", len(self._pending))

    def _open_new_spool_file(self) -> None:
        self._seq += 1
        path = self.spool_dir / f"spool-{self._seq:08d}.jsonl"
        self._spool_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._spool_lines = 0
        fsync_dir(self.spool_dir)

    # ------------------------------------------------------------------ public API
    def record(
        self,
        customer_id: str,
        meter: str,
        quantity: Decimal | int | str | None = None,
        *,
        timestamp: datetime | str | None = None,
        dimensions: Mapping[str, str] | None = None,
        properties: Mapping[str, Any] | None = None,
        event_id: str | None = None,
    ) -> str:
        """Spool one usage event durably and return its event_id. Raises TypeError for a float quantity."""
        event = event_record(
            event_id or str(uuid.uuid4()),
            customer_id,
            meter,
            _timestamp_text(timestamp),
            _quantity_text(quantity),
            dimensions=dimensions,
            properties=properties,
            source=self.source,
        )
        data = json.dumps(event, separators=(",", ":"), default=_json_default).encode()
        with self._cond:
            if self._closed:
                raise RuntimeError("UsageClient is closed")
            if self._spool_lines >= self.spool_file_events:
                os.close(self._spool_fd)
                self._open_new_spool_file()
            os.write(self._spool_fd, data + b"\n")
            os.fsync(self._spool_fd)
            self._pending.append(_Pending(self._seq, self._spool_lines, data, event["event_id"]))
            self._spool_lines += 1
            if len(self._pending) >= self.batch_size:
                self._cond.notify_all()
        return event["event_id"]

    def flush(self, timeout: float | None = None) -> None:
        """Send everything spooled now; wait until the collector acknowledged it.
        Raises DeliveryError if that did not happen within ``timeout`` seconds (events stay spooled)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_requested = True
            self._cond.notify_all()
            while self._pending or self._in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise DeliveryError(
                        f"{len(self._pending)} event(s) not yet acknowledged by {self.url} "
                        f"(last error: {self.last_error}); they stay in {self.spool_dir} and are retried"
                    )
                self._cond.wait(timeout=0.05 if remaining is None else min(0.05, remaining))

    def close(self, timeout: float | None = None) -> None:
        """Flush (waiting up to ``timeout``), stop the sender, release the spool. Undelivered events stay spooled."""
        if self._closed:
            return
        try:
            self.flush(timeout=timeout)
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            self._thread.join(timeout=5)
            os.close(self._spool_fd)
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()
            with contextlib.suppress(ValueError):
                atexit.unregister(self._atexit)

    def __enter__(self) -> UsageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _atexit(self) -> None:
        try:
            self.close(timeout=self.flush_on_exit_timeout)
        except DeliveryError as exc:
            log.warning("usagebill client at exit: %s", exc)

    # ------------------------------------------------------------------ sender thread
    _flush_requested = False

    def _run(self) -> None:
        last_send = time.monotonic()
        while True:
            with self._cond:
                while not self._closed:
                    due = time.monotonic() - last_send >= self.flush_interval
                    if self._pending and (
                        len(self._pending) >= self.batch_size or due or self._flush_requested
                    ):
                        break
                    self._cond.wait(timeout=max(0.01, self.flush_interval - (time.monotonic() - last_send)))
                if self._closed:
                    return
                batch = [self._pending[i] for i in range(min(self.batch_size, len(self._pending)))]
                self._in_flight = len(batch)
            settled = self._deliver(batch)
            last_send = time.monotonic()
            with self._cond:
                if settled:
                    for _ in range(settled):
                        self._pending.popleft()
                    self._advance_cursor()
                if not self._pending:
                    self._flush_requested = False
                self._in_flight = 0
                self._cond.notify_all()

    def _advance_cursor(self) -> None:
        if self._pending:
            seq, line = self._pending[0].seq, self._pending[0].line
        else:
            seq, line = self._seq, self._spool_lines
        self._write_cursor(seq, line)
        for s, path in self._spool_files():
            if s < seq:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _deliver(self, batch: list[_Pending]) -> int:
        """POST one batch with retries; return how many events from its front are settled
        (acknowledged by the collector, or dead-lettered); the rest stay spooled."""
        body = b"[" + b",".join(p.data for p in batch) + b"]"
        status: int = 0
        payload: Any = None
        for attempt in range(self.max_retries + 1):
            if self._closed:
                return 0
            status, payload, retry_after = self._post(body)
            if status == 200:
                answers = payload.get("results", []) if isinstance(payload, dict) else []
                for a in answers:
                    outcome = a.get("status", "accepted")
                    self.sent[outcome] = self.sent.get(outcome, 0) + 1
                    if outcome == "rejected":
                        idx = a.get("index")
                        if isinstance(idx, int) and 0 <= idx < len(batch):
                            self._dead_letter(batch[idx], a)
                self.last_error = None
                return len(batch)
            self.last_error = f"HTTP {status}: {payload}" if status else str(payload)
            if status in _CONTENT_REFUSED:
                return self._split(batch, status, payload)
            if status and status not in _RETRY_STATUS and status < 500:
                # 401/403...: not the events' fault; retrying soon will not help; keep them spooled
                log.error("usagebill collector refused a batch (%s); events stay spooled", self.last_error)
                self._sleep(self.backoff_cap)
                return 0
            if attempt < self.max_retries:
                delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * (2**attempt)))
                if retry_after is not None:
                    delay = max(delay, retry_after)
                self._sleep(delay)
        if status == 500:
            # a 500 through every retry while the collector answers: possibly one event it cannot
            # process; find it so the others are not held behind it
            return self._split(batch, status, payload)
        log.warning(
            "usagebill client: batch not delivered after %d retries (%s); kept spooled",
            self.max_retries,
            self.last_error,
        )
        return 0

    def _split(self, batch: list[_Pending], status: int, payload: Any) -> int:
        """The collector refused the whole batch: deliver its halves separately, so only the event
        that causes the refusal is left; that one goes to the dead-letter file with the answer."""
        if len(batch) == 1:
            reason = payload.get("detail") or payload.get("error") if isinstance(payload, dict) else None
            self._dead_letter(
                batch[0],
                {
                    "status": "refused",
                    "http_status": status,
                    "reason": str(reason or payload),
                    "answer": payload,
                },
            )
            return 1
        half = len(batch) // 2
        settled = 0
        for part in (batch[:half], batch[half:]):
            n = self._deliver(part)
            settled += n
            if n < len(part):
                break
        return settled

    def _dead_letter(self, pending: _Pending, answer: dict[str, Any]) -> None:
        """Keep an event the collector will not take, with why, in spool_dir/dead-letter.jsonl
        (appended, fsync'd): fix it and record it again, or drop it knowingly."""
        try:
            event: Any = json.loads(pending.data)
        except ValueError:
            event = pending.data.decode("utf-8", errors="replace")
        record = {
            "dead_lettered_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "event_id": pending.event_id,
            "event": event,
            "status": answer.get("status"),
            "field": answer.get("field"),
            "rule": answer.get("rule"),
            "reason": answer.get("reason"),
        }
        if "http_status" in answer:
            record["http_status"] = answer["http_status"]
        fd = os.open(self.dead_letter_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, json.dumps(record, separators=(",", ":")).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        self.dead_lettered += 1
        self.rejections.append(answer)
        del self.rejections[:-MAX_KEPT_REJECTIONS]
        log.warning(
            "usagebill collector did not take event %s (%s); kept in %s",
            pending.event_id,
            answer.get("reason"),
            self.dead_letter_path,
        )

    def _sleep(self, seconds: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._closed, timeout=seconds)

    def _post(self, body: bytes) -> tuple[int, Any, float | None]:
        req = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._api_key}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, json.loads(resp.read() or b"{}"), None
        except urllib.error.HTTPError as exc:
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            try:
                payload = json.loads(exc.read() or b"{}")
            except ValueError:
                payload = {}
            return exc.code, payload, float(retry_after) if retry_after and retry_after.isdigit() else None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            return 0, f"connection error: {exc}", None


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return _timestamp_text(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
