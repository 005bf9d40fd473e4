"""The collector's HTTP API (aiohttp): native, OpenMeter-compatible and Lago-compatible ingestion."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from ingestion.collector import compat
from ingestion.collector.customers import RULE as FOREIGN_CUSTOMER
from ingestion.collector.customers import CustomerTenants
from ingestion.collector.keys import KeyStore
from ingestion.collector.landing_log import LandingLog, LogFailedError
from ingestion.collector.processing import Answer, BatchOutcome, process_batch, quarantine_line, utc_text
from ingestion.events import Rejection, loads

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
    # customers.yaml of this catalog says which tenant owns which customer (None: no check)
    catalog_dir: Path | None = None


class Counters:
    def __init__(self) -> None:
        self.events: dict[tuple[str, str], int] = {}
        self.requests: dict[tuple[str, int], int] = {}

    def add_events(self, endpoint: str, outcome: BatchOutcome) -> None:
        for name, n in (
            ("accepted", outcome.accepted),
            ("duplicate", outcome.duplicate),
            ("rejected", outcome.rejected),
        ):
            if n:
                self.events[(endpoint, name)] = self.events.get((endpoint, name), 0) + n

    def add_request(self, endpoint: str, status: int) -> None:
        self.requests[(endpoint, status)] = self.requests.get((endpoint, status), 0) + 1


def _json(body: Any, status: int = 200, content_type: str = JSON) -> web.Response:
    return web.Response(body=_ENC.encode(body), status=status, content_type=content_type)


def _problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    return _json(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}, status, PROBLEM
    )


class Collector:
    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.keys = KeyStore(config.data_dir / "keys")
        self.log = LandingLog(
            config.data_dir,
            max_segment_bytes=config.max_segment_bytes,
            max_segment_age=config.max_segment_age,
            dedup_horizon_keys=config.dedup_horizon_keys,
            fsync=config.fsync,
        )
        self.value_map = compat.load_value_map(config.value_map_path)
        self.customer_tenants = CustomerTenants(config.catalog_dir)
        self.counters = Counters()
        self.started = time.time()
        self.recovery = self.log.recover()

    # ------------------------------------------------------------------ app
    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_post("/v1/events", self.post_events)
        app.router.add_post("/openmeter/api/v1/events", self.post_openmeter)
        app.router.add_post("/lago/api/v1/events", self.post_lago)
        app.router.add_post("/lago/api/v1/events/batch", self.post_lago_batch)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        await self.log.start()
        self.customer_tenants.start()

    async def _on_shutdown(self, _app: web.Application) -> None:
        await self.log.close()
        await self.customer_tenants.stop()

    # ------------------------------------------------------------------ helpers
    def _tenant(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.keys.tenant_for(token.strip())

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

    def _translate_and_process(
        self,
        items: list[Any],
        translate: Callable[[Any, dict[str, str], datetime], dict[str, Any] | Rejection],
        *,
        tenant: str,
        now: datetime,
        endpoint: str,
        default_source: str,
    ) -> tuple[list[Any], BatchOutcome]:
        """Translate compatible-API items to native events (None where `translate` refused one; the
        refusal becomes that item's rejection) and process the batch against the raw items."""
        translated: list[Any] = []
        pre: dict[int, Rejection] = {}
        for i, item in enumerate(items):
            ev = translate(item, self.value_map, now)
            if isinstance(ev, Rejection):
                pre[i] = ev
                translated.append(None)
            else:
                translated.append(ev)
        outcome = process_batch(
            translated,
            tenant_id=tenant,
            index=self.log.index,
            now=now,
            endpoint=endpoint,
            default_source=default_source,
            raw_items=items,
            pre_rejections=pre or None,
            check_customer=self.customer_tenants.checker,
        )
        return translated, outcome

    async def _read(self, request: web.Request) -> bytes:
        return await request.read()

    async def _commit(self, outcome: BatchOutcome) -> None:
        fut = self.log.stage(outcome.lines, outcome.keys, outcome.quarantine)
        await fut

    # ------------------------------------------------------------------ native API
    async def post_events(self, request: web.Request) -> web.Response:
        endpoint = "/v1/events"
        resp = await self._post_events(request, endpoint)
        self.counters.add_request(endpoint, resp.status)
        return resp

    async def _post_events(self, request: web.Request, endpoint: str) -> web.Response:
        tenant = self._tenant(request)
        if tenant is None:
            return _json(
                {
                    "error": "unauthorized",
                    "detail": "send Authorization: Bearer <key> (usagebill keys create --tenant NAME)",
                },
                401,
            )
        if msg := self._too_large(request):
            return _json({"error": "payload_too_large", "detail": msg}, 413)
        try:
            body = await self._read(request)
        except web.HTTPRequestEntityTooLarge:
            return _json(
                {"error": "payload_too_large", "detail": f"the limit is {self.config.max_body_bytes} bytes"},
                413,
            )
        ctype = request.content_type
        raw_items: list[Any] | None = None
        pre: dict[int, Rejection] = {}
        if ctype in ("application/x-ndjson", "application/jsonl", "application/ndjson"):
            lines = [ln for ln in body.split(b"\n") if ln.strip()]
            if msg := self._too_many(len(lines)):
                return _json({"error": "payload_too_large", "detail": msg}, 413)
            items: list[Any] = []
            raw_items = lines
            for i, ln in enumerate(lines):
                try:
                    items.append(loads(ln))
                except ValueError as exc:
                    items.append(None)
                    pre[i] = Rejection(
                        "$", "json", f"line {i + 1} is not JSON ({exc}); send one JSON object per line"
                    )
        else:
            try:
                decoded = loads(body)
            except ValueError as exc:
                return _json(
                    {
                        "error": "invalid_json",
                        "detail": f"the body is not JSON ({exc}); send an event object, an array of events, or NDJSON with Content-Type application/x-ndjson",
                    },
                    400,
                )
            items = decoded if isinstance(decoded, list) else [decoded]
            if msg := self._too_many(len(items)):
                return _json({"error": "payload_too_large", "detail": msg}, 413)
        now = datetime.now(UTC)
        outcome = process_batch(
            items,
            tenant_id=tenant,
            index=self.log.index,
            now=now,
            endpoint=endpoint,
            raw_items=raw_items,
            pre_rejections=pre or None,
            check_customer=self.customer_tenants.checker,
        )
        try:
            await self._commit(outcome)
        except LogFailedError as exc:
            return _json(
                {"error": "unavailable", "detail": f"{exc}; nothing in this request was acknowledged: retry"},
                503,
            )
        self.counters.add_events(endpoint, outcome)
        return _json(outcome.summary(), 403 if _all_foreign(outcome) else 200)

    # ------------------------------------------------------------------ OpenMeter (CloudEvents)
    async def post_openmeter(self, request: web.Request) -> web.Response:
        endpoint = "/openmeter/api/v1/events"
        resp = await self._post_openmeter(request, endpoint)
        self.counters.add_request(endpoint, resp.status)
        return resp

    async def _post_openmeter(self, request: web.Request, endpoint: str) -> web.Response:
        tenant = self._tenant(request)
        if tenant is None:
            return _problem(401, "Unauthorized", "send Authorization: Bearer <key>")
        if msg := self._too_large(request):
            return _problem(413, "Payload Too Large", msg)
        try:
            body = await self._read(request)
        except web.HTTPRequestEntityTooLarge:
            return _problem(413, "Payload Too Large", f"the limit is {self.config.max_body_bytes} bytes")
        try:
            decoded = loads(body)
        except ValueError as exc:
            return _problem(400, "Bad Request", f"the body is not JSON ({exc})")
        ctype = request.content_type
        if ctype == "application/cloudevents-batch+json" or isinstance(decoded, list):
            if not isinstance(decoded, list):
                return _problem(
                    400, "Bad Request", "application/cloudevents-batch+json needs a JSON array of CloudEvents"
                )
            items = decoded
        else:
            items = [decoded]
        if msg := self._too_many(len(items)):
            return _problem(413, "Payload Too Large", msg)
        now = datetime.now(UTC)
        # structurally invalid CloudEvents refuse the whole request (as OpenMeter does); they are
        # still quarantined with their reason
        structural = {
            i: err for i, item in enumerate(items) if (err := compat.cloudevent_structure_error(item))
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
            try:
                await self._commit(BatchOutcome(quarantine=quarantine))
            except LogFailedError as exc:
                return _problem(503, "Service Unavailable", str(exc))
            self.counters.add_events(endpoint, BatchOutcome(rejected=len(structural)))
            errors = [{"index": i, "detail": err} for i, err in structural.items()]
            return _problem(
                400,
                "Bad Request",
                f"{len(errors)} invalid CloudEvent(s); nothing was ingested",
                errors=errors,
            )
        _, outcome = self._translate_and_process(
            items,
            compat.from_cloudevent,
            tenant=tenant,
            now=now,
            endpoint=endpoint,
            default_source="cloudevents",
        )
        try:
            await self._commit(outcome)
        except LogFailedError as exc:
            return _problem(503, "Service Unavailable", str(exc))
        self.counters.add_events(endpoint, outcome)
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
        endpoint = "/lago/api/v1/events"
        resp = await self._post_lago(request, endpoint, batch=False)
        self.counters.add_request(endpoint, resp.status)
        return resp

    async def post_lago_batch(self, request: web.Request) -> web.Response:
        endpoint = "/lago/api/v1/events/batch"
        resp = await self._post_lago(request, endpoint, batch=True)
        self.counters.add_request(endpoint, resp.status)
        return resp

    @staticmethod
    def _lago_error(status: int, error: str, code: str, details: Any = None) -> web.Response:
        body: dict[str, Any] = {"status": status, "error": error, "code": code}
        if details is not None:
            body["error_details"] = details
        return _json(body, status)

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

    async def _post_lago(self, request: web.Request, endpoint: str, *, batch: bool) -> web.Response:
        tenant = self._tenant(request)
        if tenant is None:
            return self._lago_error(401, "Unauthorized", "unauthorized")
        if msg := self._too_large(request):
            return self._lago_error(413, "Payload Too Large", "payload_too_large", {"base": [msg]})
        try:
            body = await self._read(request)
            decoded = loads(body)
        except web.HTTPRequestEntityTooLarge:
            return self._lago_error(413, "Payload Too Large", "payload_too_large")
        except ValueError as exc:
            return self._lago_error(
                400, "Bad Request", "bad_request", {"base": [f"the body is not JSON ({exc})"]}
            )
        key = "events" if batch else "event"
        if not isinstance(decoded, dict) or key not in decoded:
            return self._lago_error(
                400, "BadRequest", "bad_request", {"base": [f"param is missing or the value is empty: {key}"]}
            )
        items = decoded[key] if batch else [decoded[key]]
        if not isinstance(items, list):
            return self._lago_error(400, "BadRequest", "bad_request", {"base": ["events must be an array"]})
        if msg := self._too_many(len(items)):
            return self._lago_error(413, "Payload Too Large", "payload_too_large", {"base": [msg]})
        now = datetime.now(UTC)
        translated, outcome = self._translate_and_process(
            items, compat.from_lago, tenant=tenant, now=now, endpoint=endpoint, default_source="lago-api"
        )
        failed = [r for r in outcome.results if r.status != "accepted"]
        if failed:
            # Lago batches are atomic: one invalid or duplicate event -> 422, nothing persisted.
            # Rejected events are still quarantined with their reason.
            try:
                await self._commit(BatchOutcome(quarantine=outcome.quarantine))
            except LogFailedError as exc:
                return self._lago_error(503, "Service Unavailable", "unavailable", {"base": [str(exc)]})
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
            await self._commit(outcome)
        except LogFailedError as exc:
            return self._lago_error(503, "Service Unavailable", "unavailable", {"base": [str(exc)]})
        self.counters.add_events(endpoint, outcome)
        created_at = utc_text(now.replace(microsecond=0))
        events = [self._lago_event(tenant, translated[i], items[i], created_at) for i in range(len(items))]
        return _json({"events": events} if batch else {"event": events[0]})

    # ------------------------------------------------------------------ ops
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
                "dedup_index_keys": len(self.log.index),
            }
        )

    async def metrics(self, _request: web.Request) -> web.Response:
        lines = [
            "# HELP usagebill_collector_events_total Events answered, by endpoint and outcome.",
            "# TYPE usagebill_collector_events_total counter",
        ]
        totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for (endpoint, outcome), n in sorted(self.counters.events.items()):
            totals[outcome] += n
            lines.append(f'usagebill_collector_events_total{{endpoint="{endpoint}",outcome="{outcome}"}} {n}')
        for outcome in ("accepted", "duplicate", "rejected"):
            lines += [
                f"# HELP usagebill_collector_{outcome}_total Events {outcome}, all endpoints.",
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
