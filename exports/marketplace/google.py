"""Google Cloud Marketplace (SaaS): Service Control services/{service}:report.

One operation per consumer and hour (window), carrying every metric of the listing: operationId is a
UUIDv5 of service|consumer|window (deterministic: a resend after a crash is deduplicated by Google),
consumerId = the entitlement's usageReportingId, startTime = the end of the consumer's previous report
(contiguous windows), metricValueSets[{metricName, metricValues[{int64Value}]}]. A response's
reportErrors name the operations that failed; the others are accepted.

Env: USAGEBILL_GOOGLE_SERVICECONTROL_ENDPOINT (default https://servicecontrol.googleapis.com),
USAGEBILL_GOOGLE_ACCESS_TOKEN (an OAuth access token of the service account that owns the service).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from exports.marketplace.catalog import MarketplaceIdentity, OfferingCatalog
from exports.marketplace.ledger import ReportRow
from exports.marketplace.transport import Backoff, Outcome, RetryableError, env, rfc3339
from exports.marketplace.windows import is_open

MAX_OPERATIONS = 100
MAX_BYTES = 1_000_000


def operation(rows: Sequence[ReportRow], ident: MarketplaceIdentity) -> dict[str, Any]:
    first = rows[0]
    if first.window_start is None or first.window_end is None or first.request_key is None:
        raise ValueError(f"{first.key}: a Google report needs a window and an operation id")
    return {
        "operationId": first.request_key,
        "operationName": "usagebill/hourly-usage",
        "consumerId": ident.usage_reporting_id,
        "startTime": rfc3339(first.window_start),
        "endTime": rfc3339(first.window_end),
        "metricValueSets": [
            {"metricName": row.dimension, "metricValues": [{"int64Value": str(int(row.quantity))}]}
            for row in rows
        ],
    }


class GoogleServiceControlTransport:
    marketplace = "google"

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        access_token: str | None = None,
        session: requests.Session | None = None,
        backoff: Backoff | None = None,
        now: Callable[[], datetime] | None = None,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.session = session or requests.Session()
        self.endpoint = (
            endpoint
            or env("USAGEBILL_GOOGLE_SERVICECONTROL_ENDPOINT", "https://servicecontrol.googleapis.com")
            or ""
        ).rstrip("/")
        self.access_token = access_token or env("USAGEBILL_GOOGLE_ACCESS_TOKEN", required=True)
        self.backoff = backoff or Backoff()
        self.now = now or (lambda: datetime.now(UTC))
        self.log = log
        self.calls = 0

    def _report(self, service: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        body = json.dumps({"operations": operations}, separators=(",", ":"))

        def once() -> dict[str, Any]:
            self.calls += 1
            response = self.session.post(
                f"{self.endpoint}/v1/services/{service}:report",
                data=body,
                headers={"authorization": f"Bearer {self.access_token}", "content-type": "application/json"},
                timeout=60,
            )
            if response.status_code == 429 or response.status_code >= 500:
                raise RetryableError(f"HTTP {response.status_code}: {response.text[:200]}")
            if response.status_code != 200:
                raise RuntimeError(
                    f"Service Control refused the report: HTTP {response.status_code} {response.text[:300]}"
                )
            return response.json()

        return self.backoff.run(once, lambda n, e: self.log(f"google: retry {n} after {e}"))

    def send(
        self, rows: Sequence[ReportRow], identities: dict[str, MarketplaceIdentity], catalog: OfferingCatalog
    ) -> list[Outcome]:
        window = catalog.window_hours["google"]
        now = self.now()
        by_op: dict[str, list[ReportRow]] = defaultdict(list)
        outcomes: list[Outcome] = []
        for row in rows:
            if not is_open("google", row.hour_start, now, window):
                outcomes.append(
                    Outcome(row, "carried", False, detail=f"window ended more than {window} h ago")
                )
            else:
                by_op[row.request_key or ""].append(row)
        by_service: dict[str, list[tuple[dict[str, Any], list[ReportRow]]]] = defaultdict(list)
        for op_rows in by_op.values():
            op_rows.sort(key=lambda r: r.dimension)
            service = catalog.listing("google", op_rows[0].offering_id).service_name or ""
            by_service[service].append((operation(op_rows, identities[op_rows[0].customer_id]), op_rows))
        for service, ops in by_service.items():
            # windows of one consumer must arrive in order: sort by start time
            ops.sort(key=lambda item: (item[0]["startTime"], item[0]["consumerId"]))
            batch: list[tuple[dict[str, Any], list[ReportRow]]] = []
            size = 0
            for op, op_rows in ops:
                op_size = len(json.dumps(op))
                if batch and (len(batch) >= MAX_OPERATIONS or size + op_size > MAX_BYTES - 1000):
                    outcomes.extend(self._send_batch(service, batch))
                    batch, size = [], 0
                batch.append((op, op_rows))
                size += op_size
            if batch:
                outcomes.extend(self._send_batch(service, batch))
        return outcomes

    def _send_batch(self, service: str, batch: list[tuple[dict[str, Any], list[ReportRow]]]) -> list[Outcome]:
        try:
            response = self._report(service, [op for op, _ in batch])
        except RetryableError as exc:
            self.log(f"google: giving up for this run ({exc}); {len(batch)} operations stay `sent`")
            return []
        errors = {e.get("operationId"): e.get("status", {}) for e in response.get("reportErrors", [])}
        outcomes = []
        for op, op_rows in batch:
            status = errors.get(op["operationId"])
            for row in op_rows:
                if status is None:
                    outcomes.append(Outcome(row, "acknowledged", True, op["operationId"]))
                else:
                    outcomes.append(
                        Outcome(
                            row,
                            "failed",
                            False,
                            op["operationId"],
                            f"reportError {status.get('code')}: {status.get('message')}",
                        )
                    )
        return outcomes
