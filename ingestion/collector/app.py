"""The collector's HTTP API (aiohttp): native, OpenMeter-compatible and Lago-compatible ingestion."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import compress
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from ingestion.collector import compat
from ingestion.collector.customers import RULE as FOREIGN_CUSTOMER
from ingestion.collector.customers import CustomerTenants
from ingestion.collector.fastbatch import decode_batch, process_columns
from ingestion.collector.keys import KeyStore
from ingestion.collector.landing_log import (
    LandingLog,
    LogBusyError,
    LogFailedError,
    shard_masks,
    shard_of,
)
from ingestion.collector.limits import KeyLimits
from ingestion.collector.meters import MeterCatalog
from ingestion.collector.processing import (
    Answer,
    BatchOutcome,
    decode_items,
    json_error_reason,
    mark_duplicates,
    process_batch,
    quarantine_line,
    recheck_duplicates,
    split_json_array,
    utc_text,
)
from ingestion.collector.shards import ShardClient, ShardServer
from ingestion.events import Rejection, decode_wire_array, loads

T = TypeVar("T")

_ENC = msgspec.json.Encoder(decimal_format="number")
JSON = "application/json"
PROBLEM = "application/problem+json"
_LAGO_NS = uuid.UUID("5d0c3b4e-1f0a-4c55-9a53-4b1d8e2c7a10")


@dataclass(frozen=True)
class CollectorConfig:
    data_dir: Path
    max_batch_events: int = 10_000
    max_body_bytes: int = 10 * 1024 * 1024
    max_segment_bytes: int = 64 * 1024 * 1024
    max_segment_age: float = 60.0
    dedup_horizon_keys: int = 5_000_000
    value_map_path: Path | None = None
    fsync: bool = True
    # meters.yaml: unknown-meter warnings, compat dimensions/values; customers.yaml: customer tenants
    catalog_dir: Path | None = None
    rate_limit_events: float = 100_000.0  # per key and second (0 = off); a request costs max(1, events)
    rate_limit_burst: float = 200_000.0
    quarantine_bytes_per_key_day: int = 256 * 1024 * 1024  # 0 = unbounded
    body_timeout: float = 30.0  # seconds to receive a whole body once its headers arrived
    offload_bytes: int = 64 * 1024  # bodies at least this large are decoded/validated off the loop
    # --workers N: this process is worker `shard` of `workers` sharing the port; `run_dir` holds
    # the workers' shard sockets (ingestion/collector/shards.py, docs/collector.md "Workers")
    workers: int = 1
    shard: int = 0
    run_dir: Path | None = None


class Refusal(Exception):
    """A request refused as a whole (auth, size, rate, timeout, not JSON); each API shapes it."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}


class Counters:
    def __init__(self) -> None:
        self.events: dict[tuple[str, str], int] = {}
        self.requests: dict[tuple[str, int], int] = {}

    def add_events(self, endpoint: str, outcome: BatchOutcome) -> None:
        for name, n in (
            ("accepted", outcome.accepted),
            ("duplicate", outcome.duplicate),
            ("rejected", outcome.rejected),
            ("unknown_meter", outcome.unknown_meter),
        ):
            if n:
                self.events[(endpoint, name)] = self.events.get((endpoint, name), 0) + n

    def add_request(self, endpoint: str, status: int) -> None:
        self.requests[(endpoint, status)] = self.requests.get((endpoint, status), 0) + 1


def _json(
    body: Any, status: int = 200, content_type: str = JSON, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(body=_ENC.encode(body), status=status, content_type=content_type, headers=headers)


def _problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    return _json(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra},
        status,
        PROBLEM,
        headers,
    )


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    408: "Request Timeout",
    413: "Payload Too Large",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


class Collector:
    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.keys = KeyStore(config.data_dir / "keys")
        self.log = LandingLog(
            config.data_dir,
            max_segment_bytes=config.max_segment_bytes,
            max_segment_age=config.max_segment_age,
            dedup_horizon_keys=max(1, config.dedup_horizon_keys // config.workers),
            fsync=config.fsync,
            shard=(config.shard, config.workers) if config.workers > 1 else None,
        )
        self.value_map = compat.load_value_map(config.value_map_path)
        self.meters = MeterCatalog(config.catalog_dir)
        # customers.yaml of the same catalog: which tenant owns which customer
        self.customer_tenants = CustomerTenants(config.catalog_dir)
        # --workers N: one table of key states for all workers (limits.SharedTable), so the rate
        # and quarantine budget of a key hold for the whole collector, not N times over
        self.limits = KeyLimits(
            config.rate_limit_events,
            config.rate_limit_burst,
            config.quarantine_bytes_per_key_day,
            shared=config.run_dir / "key-limits" if config.workers > 1 and config.run_dir else None,
        )
        self.counters = Counters()
        self.shard_server: ShardServer | None = None
        self.peers: dict[int, ShardClient] = {}  # the other workers (--workers > 1), by shard
        self.started = time.time()
        self.recovery = self.log.recover()

    # ------------------------------------------------------------------ app
    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_post("/v1/events", self.post_events)
        app.router.add_post("/openmeter/api/v1/events", self.post_openmeter)
        app.router.add_post("/lago/api/v1/events", self.post_lago)
        app.router.add_post("/lago/api/v1/events/batch", self.post_lago_batch)
        # Lago's SDKs build URLs with urljoin(api_url, "api/v1/"), which drops a last path segment
        # without a trailing slash ("http://host/lago" -> "http://host/api/v1/"): serve that too
        app.router.add_post("/api/v1/events", self.post_lago)
        app.router.add_post("/api/v1/events/batch", self.post_lago_batch)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        await self.log.start()
        self.customer_tenants.start()
        if self.config.workers > 1:
            assert self.config.run_dir is not None, "--workers > 1 needs the supervisor's run dir"
            self.shard_server = ShardServer(self.config.run_dir, self.config.shard, self._own_commit)
            await self.shard_server.start()
            self.peers = {
                i: ShardClient(self.config.run_dir, i)
                for i in range(self.config.workers)
                if i != self.config.shard
            }

    async def _on_shutdown(self, _app: web.Application) -> None:
        for peer in self.peers.values():
            await peer.close()
        if self.shard_server is not None:
            await self.shard_server.close()
        await self.log.close()
        await self.customer_tenants.stop()
        self.limits.close()

    # ------------------------------------------------------------------ helpers
    def _auth(self, request: web.Request) -> tuple[str, str]:
        """(tenant, key id) of the request's bearer key; Refusal 401 otherwise, 429 when the key
        is over its rate (docs/collector.md, "Limits")."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Refusal(
                401, "unauthorized", "send Authorization: Bearer <key> (usagebill keys create --tenant NAME)"
            )
        try:
            tenant = self.keys.tenant_for(token)
        except OSError as exc:  # e.g. no file descriptor left to re-read the keys folder
            raise Refusal(503, "unavailable", f"could not check the key now ({exc}); retry") from exc
        if tenant is None:
            raise Refusal(
                401, "unauthorized", "send Authorization: Bearer <key> (usagebill keys create --tenant NAME)"
            )
        key_id = token.split("_", 2)[1] if token.count("_") >= 2 else token[:16]
        wait = self.limits.retry_after(key_id)
        if wait is not None:
            raise Refusal(
                429,
                "rate_limited",
                f"this key sends more than {self.config.rate_limit_events:g} events per second; "
                f"retry after {wait} s with the same event ids",
                {"Retry-After": str(wait)},
            )
        return tenant, key_id

    def _too_large(self, request: web.Request) -> str | None:
        length = request.content_length
        if length is not None and length > self.config.max_body_bytes:
            return (
                f"request body is {length} bytes; the limit is {self.config.max_body_bytes} bytes "
                f"(and {self.config.max_batch_events} events): split the batch"
            )
        return None

    def _too_many(self, n: int) -> str | None:
        if n > self.config.max_batch_events:
            return f"batch has {n} events; the limit is {self.config.max_batch_events} per request: split the batch"
        return None

    def _check_count(self, n: int) -> None:
        if msg := self._too_many(n):
            raise Refusal(413, "payload_too_large", msg)

    async def _read(self, request: web.Request) -> bytes:
        """The whole body within ``body_timeout`` seconds and ``max_body_bytes``; Refusal otherwise."""
        if msg := self._too_large(request):
            raise Refusal(413, "payload_too_large", msg)
        try:
            async with asyncio.timeout(self.config.body_timeout):
                return await request.read()
        except TimeoutError as exc:
            raise Refusal(
                408,
                "request_timeout",
                f"the body did not arrive within {self.config.body_timeout:g} s; send it at once and retry",
            ) from exc
        except web.HTTPRequestEntityTooLarge as exc:
            raise Refusal(
                413,
                "payload_too_large",
                f"the limit is {self.config.max_body_bytes} bytes (and {self.config.max_batch_events} "
                f"events): split the batch",
            ) from exc

    async def _work(self, body: bytes, fn: Callable[[], T]) -> tuple[T, bool]:
        """Run the CPU work of a request (decode, translate, validate, encode): inline for small
        bodies, in a worker thread for large ones so the event loop keeps answering other
        requests. Returns (result, offloaded)."""
        if len(body) >= self.config.offload_bytes:
            return await asyncio.to_thread(fn), True
        return fn(), False

    def _decode_array_or_object(
        self, body: bytes
    ) -> tuple[list[Any], list[Any] | None, dict[int, Rejection]]:
        """Items of a JSON body (one object or an array). When the whole body does not decode
        (a too-deep or non-JSON element), the array is split and each element decoded alone, so
        one bad element is that element's rejection. Refusal 400 when it is not JSON at all."""
        try:
            decoded = loads(body)
        except (ValueError, RecursionError) as exc:
            parts = split_json_array(body)
            if parts is None:
                raise Refusal(
                    400,
                    "invalid_json",
                    json_error_reason(exc, "the body")
                    + "; send an event object, an array of events, or NDJSON with Content-Type application/x-ndjson",
                ) from exc
            self._check_count(len(parts))
            items, pre = decode_items(parts)
            return items, parts, pre
        items = decoded if isinstance(decoded, list) else [decoded]
        self._check_count(len(items))
        return items, None, {}

    def _translate_and_process(
        self,
        items: list[Any],
        translate: Callable[[Any, dict[str, str], datetime], dict[str, Any] | Rejection],
        *,
        tenant: str,
        now: datetime,
        endpoint: str,
        default_source: str,
        pre: dict[int, Rejection] | None = None,
        raw_items: list[Any] | None = None,
    ) -> tuple[list[Any], BatchOutcome]:
        """Translate compatible-API items to native events (None where `translate` refused one; the
        refusal becomes that item's rejection), fill them from their catalog meter (dimensions,
        value property) and process the batch against the raw items."""
        translated: list[Any] = []
        pre = dict(pre or {})
        for i, item in enumerate(items):
            if i in pre:
                translated.append(None)
                continue
            try:
                ev = translate(item, self.value_map, now)
                if not isinstance(ev, Rejection) and isinstance(ev.get("meter"), str):
                    compat.apply_meter(ev, self.meters.get(ev["meter"]))
            except Exception as exc:  # noqa: BLE001 - one item's problem never fails the batch
                ev = Rejection(
                    "$", "unprocessable", f"the event could not be translated ({type(exc).__name__})"
                )
            if isinstance(ev, Rejection):
                pre[i] = ev
                translated.append(None)
            else:
                translated.append(ev)
        outcome = self._process(
            translated,
            pre,
            tenant_id=tenant,
            now=now,
            endpoint=endpoint,
            default_source=default_source,
            raw_items=raw_items or items,
        )
        return translated, outcome

    def _process(self, items: list[Any], pre: dict[int, Rejection] | None, **batch: Any) -> BatchOutcome:
        """processing.process_batch (`batch`: its tenant_id, now, endpoint, default_source, raw_items)
        against this collector's dedup index, known meters and customer tenants."""
        return process_batch(
            items,
            index=self.log.index,
            pre_rejections=pre or None,
            is_unknown_meter=self.meters.is_unknown if self.meters.known else None,
            check_customer=self.customer_tenants.checker,
            **batch,
        )

    def _bound_quarantine(self, key_id: str, outcome: BatchOutcome) -> None:
        """Keep at most the key's daily quarantine budget; answers of events past it say so."""
        if not outcome.quarantine:
            return
        allowed = self.limits.quarantine_allowance(key_id, [len(q) for q in outcome.quarantine])
        if allowed == len(outcome.quarantine):
            return
        outcome.quarantine = outcome.quarantine[:allowed]
        seen = 0
        for pos, answer in enumerate(outcome.results):
            if answer.status != "rejected":
                continue
            seen += 1
            if seen > allowed:
                outcome.results[pos] = Answer(
                    answer.index,
                    answer.event_id,
                    answer.status,
                    answer.field,
                    answer.rule,
                    f"{answer.reason} (not kept in the collector's quarantine: this key used its "
                    f"{self.config.quarantine_bytes_per_key_day} bytes of quarantine for today; keep the "
                    f"event on your side)",
                )

    async def _commit(self, outcome: BatchOutcome, key_id: str | None = None) -> None:
        if key_id is not None:
            self._bound_quarantine(key_id, outcome)
        if self.peers:
            await self._commit_sharded(outcome)
            return
        fut = self.log.stage(outcome.landed_bytes(), outcome.keys, outcome.quarantine)
        await fut

    async def _commit_sharded(self, outcome: BatchOutcome) -> None:
        """--workers > 1: each key is decided and landed by the worker owning its shard; the keys
        of this worker's shard are re-checked and staged here, the others sent to their owners,
        one message per owner and request (keys and lines picked with C-level loops and sent as
        two joined byte strings). Returns once every part is durable; the owners' duplicates
        become `duplicate` answers. Any part failing fails the request (503 + Retry-After):
        nothing of it is acknowledged."""
        me = self.config.shard
        keys = outcome.keys
        masks = shard_masks(keys, self.config.workers)
        mine = masks.get(me, b"")
        if set(masks) <= {me}:  # every key is this worker's: the lines stay in one piece
            local, local_keys, local_lines = range(len(keys)), keys, outcome.landed_bytes()
        else:
            local, local_keys = list(compress(range(len(keys)), mine)), list(compress(keys, mine))
            local_lines = [outcome.landed_part(mine)]
        index = self.log.index
        dups: set[int] = set()
        if not index.isdisjoint(local_keys):
            lines = outcome.landed_lines()
            contains = index.membership()
            dups = {pos for pos in local if contains(keys[pos])}
            keep = [pos for pos in local if pos not in dups]
            local_keys, local_lines = [keys[p] for p in keep], [lines[p] for p in keep]
        fut = self.log.stage(local_lines, local_keys, outcome.quarantine)
        order = [
            (shard, list(compress(range(len(keys)), mask)), list(compress(keys, mask)), mask)
            for shard, mask in masks.items()
            if shard != me
        ]
        answers = await asyncio.gather(
            fut,
            *(self.peers[shard].commit(k, outcome.landed_part(mask)) for shard, _, k, mask in order),
            return_exceptions=True,
        )
        for answer in answers:
            if isinstance(answer, BaseException):
                if isinstance(answer, LogFailedError):
                    raise answer
                raise LogBusyError(f"could not land the request ({answer}); retry") from answer
        for (_, pos, _, _), remote_dups in zip(order, answers[1:], strict=True):
            dups.update(pos[i] for i in remote_dups)
        mark_duplicates(outcome, dups)

    async def _mark_remote_duplicates(self, outcome: BatchOutcome) -> None:
        """--workers > 1: ask the owners of the other shards which of these keys they accepted
        already (nothing is landed) and answer those `duplicate` (the Lago API refuses a batch
        with a duplicate before landing any of it)."""
        n, me = self.config.workers, self.config.shard
        parts: dict[int, list[int]] = {}
        for pos, key in enumerate(outcome.keys):
            if (owner := shard_of(key, n)) != me:
                parts.setdefault(owner, []).append(pos)
        order = list(parts.items())
        answers = await asyncio.gather(
            *(self.peers[shard].commit([outcome.keys[p] for p in pos], None) for shard, pos in order)
        )
        mark_duplicates(
            outcome, {pos[i] for (_, pos), dups in zip(order, answers, strict=True) for i in dups}
        )

    async def _own_commit(self, keys: list[bytes], lines: bytes | None) -> list[int]:
        """A peer worker's keys of this worker's shard: positions of those already accepted; the
        others are staged and durable when this returns (ShardServer answers the peer then).
        ``lines`` None: only say which keys are known, land nothing."""
        if self.log.index.isdisjoint(keys):  # the usual case: all new, one C-level check
            if lines is not None:
                await self.log.stage([lines], keys, [])
            return []
        contains = self.log.index.membership()
        dups = [i for i, k in enumerate(keys) if contains(k)]
        if lines is not None and len(dups) < len(keys):
            split = lines.splitlines(keepends=True)
            if len(split) != len(keys):
                raise ValueError(f"{len(keys)} keys came with {len(split)} lines")
            skip = set(dups)
            keep = [i for i in range(len(keys)) if i not in skip]
            await self.log.stage([split[i] for i in keep], [keys[i] for i in keep], [])
        return dups

    def _settle(self, outcome: BatchOutcome, offloaded: bool, key_id: str, n: int) -> None:
        """On the loop, after the work: dedup again if it ran in a thread, charge the key's rate."""
        if offloaded:
            recheck_duplicates(outcome, self.log.index)
        self.limits.charge(key_id, n)

    @staticmethod
    def _unavailable(exc: LogFailedError) -> Refusal:
        retry = {"Retry-After": "1"} if isinstance(exc, LogBusyError) else None
        return Refusal(503, "unavailable", f"{exc}; nothing in this request was acknowledged: retry", retry)

    # ------------------------------------------------------------------ native API
    async def post_events(self, request: web.Request) -> web.Response:
        endpoint = "/v1/events"
        try:
            resp = await self._post_events(request, endpoint)
        except Refusal as r:
            resp = _json({"error": r.code, "detail": r.detail}, r.status, headers=r.headers)
        self.counters.add_request(endpoint, resp.status)
        return resp

    def _native_work(
        self, body: bytes, ctype: str, tenant: str, now: datetime, endpoint: str
    ) -> BatchOutcome:
        raw_items: list[Any] | None = None
        pre: dict[int, Rejection] = {}
        if ctype in ("application/x-ndjson", "application/jsonl", "application/ndjson"):
            lines = [ln for ln in body.split(b"\n") if ln.strip()]
            self._check_count(len(lines))
            raw_items = lines
            items, pre = decode_items(lines, wire=True)
            for i, rejection in pre.items():  # name the line, as the docs say
                pre[i] = rejection._replace(
                    reason=rejection.reason.replace(f"element {i} of the array", f"line {i + 1}")
                )
        else:
            if (batch := decode_batch(body)) is not None:  # column-wise fast path (fastbatch.py)
                self._check_count(len(batch))
                self.meters.refresh()
                outcome = process_columns(
                    batch,
                    tenant_id=tenant,
                    disjoint=self.log.index.isdisjoint,
                    now=now,
                    is_unknown_meter=self.meters.is_unknown if self.meters.known else None,
                    customer_owners=self.customer_tenants.owners,
                )
                if outcome is not None:
                    return outcome
            if (wire := decode_wire_array(body)) is not None:  # per-event fast path
                self._check_count(len(wire))
                items = wire
            else:
                items, raw_items, pre = self._decode_array_or_object(body)
        self.meters.refresh()
        return self._process(items, pre, tenant_id=tenant, now=now, endpoint=endpoint, raw_items=raw_items)

    async def _post_events(self, request: web.Request, endpoint: str) -> web.Response:
        tenant, key_id = self._auth(request)
        body = await self._read(request)
        now = datetime.now(UTC)
        outcome, offloaded = await self._work(
            body, lambda: self._native_work(body, request.content_type, tenant, now, endpoint)
        )
        self._settle(outcome, offloaded, key_id, len(outcome.results))
        try:
            await self._commit(outcome, key_id)
        except LogFailedError as exc:
            raise self._unavailable(exc) from exc
        self.counters.add_events(endpoint, outcome)
        return _json(outcome.summary(), 403 if _all_foreign(outcome) else 200)

    # ------------------------------------------------------------------ OpenMeter (CloudEvents)
    async def post_openmeter(self, request: web.Request) -> web.Response:
        endpoint = "/openmeter/api/v1/events"
        try:
            resp = await self._post_openmeter(request, endpoint)
        except Refusal as r:
            resp = _problem(r.status, _TITLES.get(r.status, "Error"), r.detail, r.headers)
        self.counters.add_request(endpoint, resp.status)
        return resp

    def _openmeter_work(
        self, body: bytes, ctype: str, tenant: str, now: datetime, endpoint: str
    ) -> tuple[dict[int, str], BatchOutcome]:
        items, parts, pre = self._decode_array_or_object(body)
        if ctype == "application/cloudevents-batch+json" and not body.lstrip().startswith(b"["):
            raise Refusal(
                400, "bad_request", "application/cloudevents-batch+json needs a JSON array of CloudEvents"
            )
        # structurally invalid CloudEvents refuse the whole request (as OpenMeter does); they are
        # still quarantined with their reason
        structural = {
            i: err
            for i, item in enumerate(items)
            if i not in pre and (err := compat.cloudevent_structure_error(item))
        }
        if structural:
            stamp = utc_text(now)
            quarantine = [
                quarantine_line(
                    raw=items[i],
                    rejection=Rejection("$", "cloudevent", err, None),
                    tenant_id=tenant,
                    source=endpoint,
                    index=i,
                    quarantined_at=stamp,
                )
                for i, err in structural.items()
            ]
            return structural, BatchOutcome(quarantine=quarantine, rejected=len(structural))
        self.meters.refresh()
        _, outcome = self._translate_and_process(
            items,
            compat.from_cloudevent,
            tenant=tenant,
            now=now,
            endpoint=endpoint,
            default_source="cloudevents",
            pre=pre,
            raw_items=parts,
        )
        return {}, outcome

    async def _post_openmeter(self, request: web.Request, endpoint: str) -> web.Response:
        tenant, key_id = self._auth(request)
        body = await self._read(request)
        now = datetime.now(UTC)
        (structural, outcome), offloaded = await self._work(
            body, lambda: self._openmeter_work(body, request.content_type, tenant, now, endpoint)
        )
        self._settle(outcome, offloaded, key_id, max(len(outcome.results), outcome.rejected))
        try:
            await self._commit(outcome, key_id)
        except LogFailedError as exc:
            raise self._unavailable(exc) from exc
        self.counters.add_events(endpoint, outcome)
        if structural:
            errors = [{"index": i, "detail": err} for i, err in structural.items()]
            return _problem(
                400,
                "Bad Request",
                f"{len(errors)} invalid CloudEvent(s); nothing was ingested",
                errors=errors,
            )
        if _all_foreign(outcome):
            return _problem(
                403,
                "Forbidden",
                "every event names a customer of another tenant; nothing was ingested",
                errors=[{"index": r.index, "detail": r.reason} for r in outcome.results],
            )
        # OpenMeter answers 204 No Content; events failing meter validation are kept aside
        # (here: quarantined with their reason), as OpenMeter keeps them with validation errors.
        return web.Response(status=204)

    # ------------------------------------------------------------------ Lago
    async def post_lago(self, request: web.Request) -> web.Response:
        return await self._lago_endpoint(request, "/lago/api/v1/events", batch=False)

    async def post_lago_batch(self, request: web.Request) -> web.Response:
        return await self._lago_endpoint(request, "/lago/api/v1/events/batch", batch=True)

    async def _lago_endpoint(self, request: web.Request, endpoint: str, *, batch: bool) -> web.Response:
        try:
            resp = await self._post_lago(request, endpoint, batch=batch)
        except Refusal as r:
            if r.status == 401:
                resp = self._lago_error(401, "Unauthorized", "unauthorized")
            else:
                resp = self._lago_error(
                    r.status, _TITLES.get(r.status, "Error"), r.code, {"base": [r.detail]}, r.headers
                )
        self.counters.add_request(endpoint, resp.status)
        return resp

    @staticmethod
    def _lago_error(
        status: int, error: str, code: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> web.Response:
        body: dict[str, Any] = {"status": status, "error": error, "code": code}
        if details is not None:
            body["error_details"] = details
        return _json(body, status, headers=headers)

    def _lago_event(
        self, tenant: str, ev: dict[str, Any], original: dict[str, Any], created_at: str
    ) -> dict[str, Any]:
        return {
            "lago_id": str(uuid.uuid5(_LAGO_NS, f"{tenant}\x00{ev['event_id']}")),
            "transaction_id": ev["event_id"],
            "lago_customer_id": None,
            "code": original.get("code"),
            "timestamp": ev["timestamp"],
            "precise_total_amount_cents": original.get("precise_total_amount_cents"),
            "properties": original.get("properties") or {},
            "lago_subscription_id": None,
            "external_subscription_id": original.get("external_subscription_id"),
            "created_at": created_at,
        }

    def _lago_work(
        self, body: bytes, tenant: str, now: datetime, endpoint: str, batch: bool
    ) -> tuple[list[Any], list[Any], BatchOutcome]:
        try:
            decoded = loads(body)
        except (ValueError, RecursionError) as exc:
            raise Refusal(400, "bad_request", json_error_reason(exc, "the body")) from exc
        key = "events" if batch else "event"
        if not isinstance(decoded, dict) or key not in decoded:
            raise Refusal(400, "bad_request", f"param is missing or the value is empty: {key}")
        items = decoded[key] if batch else [decoded[key]]
        if not isinstance(items, list):
            raise Refusal(400, "bad_request", "events must be an array")
        self._check_count(len(items))
        self.meters.refresh()
        translated, outcome = self._translate_and_process(
            items, compat.from_lago, tenant=tenant, now=now, endpoint=endpoint, default_source="lago-api"
        )
        return items, translated, outcome

    async def _post_lago(self, request: web.Request, endpoint: str, *, batch: bool) -> web.Response:
        tenant, key_id = self._auth(request)
        body = await self._read(request)
        now = datetime.now(UTC)
        (items, translated, outcome), offloaded = await self._work(
            body, lambda: self._lago_work(body, tenant, now, endpoint, batch)
        )
        self._settle(outcome, offloaded, key_id, len(items))
        if self.peers:  # --workers > 1: the owners say which keys they have, before anything lands
            try:
                await self._mark_remote_duplicates(outcome)
            except LogFailedError as exc:
                raise self._unavailable(exc) from exc
        failed = [r for r in outcome.results if r.status != "accepted"]
        if failed:
            # Lago batches are atomic: one invalid or duplicate event -> 422, nothing persisted.
            # Rejected events are still quarantined with their reason.
            refused = BatchOutcome(
                results=outcome.results,
                quarantine=outcome.quarantine,
                rejected=outcome.rejected,
                duplicate=outcome.duplicate,
            )
            try:
                await self._commit(refused, key_id)
            except LogFailedError as exc:
                raise self._unavailable(exc) from exc
            self.counters.add_events(
                endpoint, BatchOutcome(rejected=outcome.rejected, duplicate=outcome.duplicate)
            )

            def detail(r: Answer) -> dict[str, list[str]]:
                if r.status == "duplicate":
                    return {"transaction_id": ["value_already_exist"]}
                return {_lago_field(r.field or "$"): [r.rule or ""], "reason": [r.reason or ""]}

            if batch:
                details: Any = {str(r.index): detail(r) for r in failed}
            else:
                details = detail(failed[0])
            if _all_foreign(outcome):
                return self._lago_error(403, "Forbidden", "forbidden", details)
            return self._lago_error(422, "Unprocessable Entity", "validation_errors", details)
        try:
            await self._commit(outcome, key_id)
        except LogFailedError as exc:
            raise self._unavailable(exc) from exc
        self.counters.add_events(endpoint, outcome)
        if outcome.duplicate:  # another worker accepted one of these ids between check and commit
            details = {
                str(r.index): {"transaction_id": ["value_already_exist"]}
                for r in outcome.results
                if r.status == "duplicate"
            }
            return self._lago_error(
                422,
                "Unprocessable Entity",
                "validation_errors",
                details if batch else next(iter(details.values())),
            )
        created_at = utc_text(now.replace(microsecond=0))
        events = [self._lago_event(tenant, translated[i], items[i], created_at) for i in range(len(items))]
        return _json({"events": events} if batch else {"event": events[0]})

    # ------------------------------------------------------------------ ops
    extra_metrics: Callable[[], list[str]] = staticmethod(lambda: [])  # set by the server (connections)

    async def healthz(self, _request: web.Request) -> web.Response:
        if self.log.failed is not None:
            return _json(
                {
                    "status": "failing",
                    "detail": f"landing log failed: {self.log.failed}; restart the collector",
                },
                503,
            )
        return _json(
            {
                "status": "ok",
                "uptime_seconds": round(time.time() - self.started, 3),
                "worker": self.config.shard,
                "workers": self.config.workers,
                "pid": os.getpid(),
                "dedup_index_keys": len(self.log.index),
            }
        )

    async def metrics(self, _request: web.Request) -> web.Response:
        lines = [
            "# HELP usagebill_collector_events_total Events answered, by endpoint and outcome.",
            "# TYPE usagebill_collector_events_total counter",
        ]
        totals = {"accepted": 0, "duplicate": 0, "rejected": 0, "unknown_meter": 0}
        for (endpoint, outcome), n in sorted(self.counters.events.items()):
            totals[outcome] += n
            lines.append(f'usagebill_collector_events_total{{endpoint="{endpoint}",outcome="{outcome}"}} {n}')
        for outcome in ("accepted", "duplicate", "rejected", "unknown_meter"):
            lines += [
                f"# HELP usagebill_collector_{outcome}_total Events {outcome}, all endpoints"
                + (
                    " (accepted, but the catalog has no such meter: they bill nothing)."
                    if outcome == "unknown_meter"
                    else "."
                ),
                f"# TYPE usagebill_collector_{outcome}_total counter",
                f"usagebill_collector_{outcome}_total {totals[outcome]}",
            ]
        lines += [
            "# HELP usagebill_collector_requests_total HTTP requests by endpoint and status.",
            "# TYPE usagebill_collector_requests_total counter",
        ]
        for (endpoint, status), n in sorted(self.counters.requests.items()):
            lines.append(f'usagebill_collector_requests_total{{endpoint="{endpoint}",code="{status}"}} {n}')
        lag = self.log.lag_seconds()
        lines += [
            "# HELP usagebill_collector_landing_lag_seconds Age of the oldest landed data not yet loaded: "
            "the open (unsealed) segment, and the oldest sealed segment still in the landing folder.",
            "# TYPE usagebill_collector_landing_lag_seconds gauge",
            f'usagebill_collector_landing_lag_seconds{{segment="unsealed"}} {lag["unsealed"]:.3f}',
            f'usagebill_collector_landing_lag_seconds{{segment="oldest_sealed"}} {lag["oldest_sealed"]:.3f}',
            "# TYPE usagebill_collector_dedup_index_keys gauge",
            f"usagebill_collector_dedup_index_keys {len(self.log.index)}",
            "# TYPE usagebill_collector_fsyncs_total counter",
            f"usagebill_collector_fsyncs_total {self.log.stats['fsyncs']}",
            "# TYPE usagebill_collector_commit_groups_total counter",
            f"usagebill_collector_commit_groups_total {self.log.stats['groups']}",
            "# TYPE usagebill_collector_sealed_segments_total counter",
            f"usagebill_collector_sealed_segments_total {self.log.stats['sealed_segments']}",
            "# TYPE usagebill_collector_transient_write_failures_total counter",
            f"usagebill_collector_transient_write_failures_total {self.log.stats['transient_failures']}",
            "# HELP usagebill_collector_rate_limited_total Requests answered 429 (per-key rate).",
            "# TYPE usagebill_collector_rate_limited_total counter",
            f"usagebill_collector_rate_limited_total {self.limits.rate_limited}",
            "# HELP usagebill_collector_quarantine_refused_total Rejected events not kept in quarantine "
            "(their key used its daily quarantine budget).",
            "# TYPE usagebill_collector_quarantine_refused_total counter",
            f"usagebill_collector_quarantine_refused_total {self.limits.quarantine_refused}",
            *self.extra_metrics(),
            "# TYPE usagebill_collector_up gauge",
            f"usagebill_collector_up {0 if self.log.failed else 1}",
        ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain", charset="utf-8")


def _all_foreign(outcome: BatchOutcome) -> bool:
    """Every event of the request names a customer of another tenant: the request is answered 403
    (the events are still quarantined with their reason)."""
    return bool(outcome.results) and all(r.rule == FOREIGN_CUSTOMER for r in outcome.results)


def _lago_field(field: str) -> str:
    return {"event_id": "transaction_id", "customer_id": "external_subscription_id", "meter": "code"}.get(
        field, field
    )
