"""Google Cloud Marketplace (SaaS): Service Control services.check, then services.report.

Rules (docs/marketplaces.md; sources):
- "you must first make a services.check API call ... if the checkErrors[] object is empty, make a
  services.report API call" (https://cloud.google.com/marketplace/docs/partners/integrated-saas/configure-usage-reports):
  every operation is checked first; a checkError (e.g. SERVICE_NOT_ACTIVATED) is a definite refusal of
  that consumer-hour: `failed`, not counted, the usage goes with the next window.
- One operation per consumer and window, carrying every metric of the listing: operationId = UUIDv5 of
  service|consumer|window, consumerId = the entitlement's usageReportingId, startTime = the end of the
  consumer's last ACCEPTED window (contiguous; a failed window never moves the start), metricValueSets
  [{metricName, metricValues[{int64Value}]}]. reportErrors name the operations that failed.
- Google documents no de-duplication of a re-sent operationId: an operation without a definite answer
  (5xx) is not resent (see reporter.py: `sent` -> `unconfirmed`, settled by the reconciliation).
- Auth: OAuth 2.0 access tokens from google-auth (service account key file USAGEBILL_GOOGLE_CREDENTIALS,
  else Application Default Credentials), scope https://www.googleapis.com/auth/servicecontrol; the
  AuthorizedSession refreshes the token before it expires and once on a 401
  (https://googleapis.dev/python/google-auth/latest/reference/google.auth.transport.requests.html).
  A refused refresh (revoked key) or a 401/403 after it is a definite refusal: `failed`.

Env: USAGEBILL_GOOGLE_SERVICECONTROL_ENDPOINT (default https://servicecontrol.googleapis.com),
USAGEBILL_GOOGLE_CREDENTIALS (path to a service-account JSON key; unset: ADC).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from exports.marketplace.catalog import MarketplaceIdentity, OfferingCatalog
from exports.marketplace.ledger import ReportRow
from exports.marketplace.transport import (
    Backoff,
    HttpTransport,
    Identities,
    Outcome,
    RetryableError,
    env,
    refused,
    rfc3339,
    unanswered,
)

SCOPES = ("https://www.googleapis.com/auth/servicecontrol",)


class GoogleRefusal(RuntimeError):
    """Service Control or Google's token endpoint refused the request (definite refusal)."""


def load_credentials() -> Any:
    """google-auth credentials: the service-account key file in USAGEBILL_GOOGLE_CREDENTIALS, else
    Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, the metadata server)."""
    import google.auth
    from google.oauth2 import service_account

    path = env("USAGEBILL_GOOGLE_CREDENTIALS")
    if path:
        return service_account.Credentials.from_service_account_file(path, scopes=list(SCOPES))
    credentials, _project = google.auth.default(scopes=list(SCOPES))
    return credentials


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


class GoogleServiceControlTransport(HttpTransport):
    marketplace = "google"
    closed_detail = "window ended more than {window} h ago"
    endpoint_env = "USAGEBILL_GOOGLE_SERVICECONTROL_ENDPOINT"
    default_endpoint = "https://servicecontrol.googleapis.com"

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        credentials: Any = None,
        session: Any = None,
        backoff: Backoff | None = None,
        now: Callable[[], datetime] | None = None,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        if session is None:
            from google.auth.transport.requests import AuthorizedSession

            session = AuthorizedSession(credentials or load_credentials())
        super().__init__(endpoint, session, backoff, now, log)

    def _post(self, service: str, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        from google.auth.exceptions import RefreshError, TransportError

        body = json.dumps(payload, separators=(",", ":"))

        def once() -> dict[str, Any]:
            self.calls += 1
            try:
                response = self.session.post(
                    f"{self.endpoint}/v1/services/{service}:{method}",
                    data=body,
                    headers={"content-type": "application/json"},
                    timeout=60,
                )
            except RefreshError as exc:
                raise GoogleRefusal(
                    f"Google refused to issue an access token ({exc}): check the service account key "
                    "(USAGEBILL_GOOGLE_CREDENTIALS / ADC) and its servicecontrol role"
                ) from exc
            except TransportError as exc:  # the token endpoint was unreachable: nothing was sent
                raise GoogleRefusal(f"Google token endpoint unreachable ({exc})") from exc
            self.check_status(response, GoogleRefusal, f"Service Control refused services.{method}")
            return response.json()

        return self._retrying(once)

    def _send_open(
        self, rows: list[ReportRow], identities: Identities, catalog: OfferingCatalog, recovery: bool
    ) -> list[Outcome]:
        by_op: dict[str, list[ReportRow]] = defaultdict(list)
        outcomes: list[Outcome] = []
        for row in rows:
            by_op[row.request_key or ""].append(row)
        by_service: dict[str, list[tuple[dict[str, Any], list[ReportRow]]]] = defaultdict(list)
        for op_rows in by_op.values():
            op_rows.sort(key=lambda r: r.dimension)
            service = catalog.listing("google", op_rows[0].offering_id).service_name or ""
            by_service[service].append((operation(op_rows, identities[op_rows[0].customer_ref]), op_rows))
        for service, ops in by_service.items():
            # windows of one consumer must arrive in order: sort by start time
            ops.sort(key=lambda item: (item[0]["startTime"], item[0]["consumerId"]))
            batch: list[tuple[dict[str, Any], list[ReportRow]]] = []
            size = 0
            for op, op_rows in ops:
                op_size = len(json.dumps(op))
                if batch and (len(batch) >= MAX_OPERATIONS or size + op_size > MAX_BYTES - 1000):
                    outcomes.extend(self._send_batch(service, batch, recovery))
                    batch, size = [], 0
                batch.append((op, op_rows))
                size += op_size
            if batch:
                outcomes.extend(self._send_batch(service, batch, recovery))
        return outcomes

    def _send_batch(
        self, service: str, batch: list[tuple[dict[str, Any], list[ReportRow]]], recovery: bool = False
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        checked: list[tuple[dict[str, Any], list[ReportRow]]] = []
        for op, op_rows in batch:  # services.check first, as Google's marketplace guide requires
            check_op = {
                k: op[k] for k in ("operationId", "operationName", "consumerId", "startTime", "endTime")
            }
            try:
                answer = self._post(service, "check", {"operation": check_op})
            except RetryableError as exc:
                outcomes.extend(
                    unanswered(op_rows, exc, "google")
                    if exc.throttled
                    else refused(op_rows, f"google: services.check failed ({exc}), not reported")
                )
                continue
            except GoogleRefusal as exc:
                outcomes.extend(refused(op_rows, f"google: {exc}"))
                continue
            errors = answer.get("checkErrors") or []
            if errors:
                reason = "; ".join(f"{e.get('code')}: {e.get('detail', '')}" for e in errors)
                outcomes.extend(
                    refused(op_rows, f"google services.check refused {op['consumerId']}: {reason}")
                )
            else:
                checked.append((op, op_rows))
        if not checked:
            return outcomes
        rows = [row for _, op_rows in checked for row in op_rows]
        try:
            response = self._post(service, "report", {"operations": [op for op, _ in checked]})
        except RetryableError as exc:
            self.log(f"google: giving up for this run ({exc})")
            return outcomes + unanswered(rows, exc, "google")
        except GoogleRefusal as exc:
            return outcomes + refused(rows, f"google: {exc}")
        errors = {e.get("operationId"): e.get("status", {}) for e in response.get("reportErrors", [])}
        for op, op_rows in checked:
            status = errors.get(op["operationId"])
            if status is None:
                state, detail = "acknowledged", None
            elif recovery:
                # the earlier run stopped during this very call: a refusal of the resend (e.g. the window
                # now overlaps the one Google accepted then) means Google most likely holds it
                state = "unconfirmed"
                detail = (
                    f"resend after an interrupted run refused (reportError {status.get('code')}: "
                    f"{status.get('message')}): Google most likely holds the first send; counted, "
                    "confirmed by the reconciliation against Google's usage report"
                )
            else:
                state = "failed"
                detail = f"reportError {status.get('code')}: {status.get('message')}; the usage goes with the next window"
            outcomes.extend(Outcome(row, state, op["operationId"], detail) for row in op_rows)
        return outcomes
