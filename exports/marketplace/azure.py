"""Azure Marketplace metered billing: POST {endpoint}/api/batchUsageEvent?api-version=2018-08-31.

Contract: <= 25 events per call, body {"request": [...]}; event = resourceId, quantity (> 0; zero is
invalid), dimension, effectiveStartTime (within the last 24 h), planId; one event per resource,
dimension and hour. Item status Accepted -> acknowledged; Duplicate (409 Conflict on the single-event
API) -> duplicate: already reported, counted; Expired -> carried; other statuses -> failed (not counted:
the quantity goes with the next hour). HTTP 429/5xx are retried with backoff, 401/403 refresh the token.

Token: Microsoft Entra client credentials, POST {authority}/{tenant}/oauth2/token (v1, resource =
the marketplace app id) or {authority}/{tenant}/oauth2/v2.0/token (v2, scope = <app id>/.default).
Env: USAGEBILL_AZURE_TENANT_ID, USAGEBILL_AZURE_CLIENT_ID, USAGEBILL_AZURE_CLIENT_SECRET,
USAGEBILL_AZURE_AUTHORITY (default https://login.microsoftonline.com), USAGEBILL_AZURE_TOKEN_VERSION
(v1|v2, default v2), USAGEBILL_AZURE_METERING_ENDPOINT (default https://marketplaceapi.microsoft.com).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests

from exports.marketplace.catalog import MarketplaceIdentity, OfferingCatalog
from exports.marketplace.ledger import ReportRow
from exports.marketplace.transport import (
    MAX_BATCH,
    Backoff,
    HttpTransport,
    Identities,
    Outcome,
    RetryableError,
    chunks,
    env,
    refused,
    rfc3339,
    unanswered,
)

MARKETPLACE_APP_ID = "20e940b3-4c77-4b0b-9a53-9e16a1b010a7"  # the Marketplace metering API resource
API_VERSION = "2018-08-31"
_REQUEST_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://usagebill.dev/marketplace/azure/request")


class AzureAuthError(RuntimeError):
    """The token endpoint or the metering API refused our credentials (definite refusal)."""


class AzureRefusal(RuntimeError):
    """The metering API refused a whole batch with a 4xx (definite refusal)."""


def dumps_with_decimals(body: Any) -> str:
    """JSON with Decimal quantities written as exact JSON numbers (no binary float on the way)."""
    marks: dict[str, str] = {}

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal):
            mark = f"__decimal_{len(marks)}__"
            marks[mark] = format(value.normalize(), "f")
            return mark
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return value

    text = json.dumps(encode(body), separators=(",", ":"))
    for mark, number in marks.items():
        text = text.replace(f'"{mark}"', number)
    return text


class EntraToken:
    """Client-credentials token, cached until a minute before it expires."""

    def __init__(
        self,
        session: requests.Session,
        authority: str | None = None,
        tenant_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        version: str | None = None,
    ) -> None:
        self.session = session
        self.authority = (
            authority or env("USAGEBILL_AZURE_AUTHORITY", "https://login.microsoftonline.com") or ""
        ).rstrip("/")
        self.tenant_id = tenant_id or env("USAGEBILL_AZURE_TENANT_ID", required=True)
        self.client_id = client_id or env("USAGEBILL_AZURE_CLIENT_ID", required=True)
        self.client_secret = client_secret or env("USAGEBILL_AZURE_CLIENT_SECRET", required=True)
        self.version = version or env("USAGEBILL_AZURE_TOKEN_VERSION", "v2")
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetches = 0

    def get(self, force: bool = False) -> str:
        if self._token and not force and time.monotonic() < self._expires_at - 60:
            return self._token
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.version == "v1":
            url = f"{self.authority}/{self.tenant_id}/oauth2/token"
            form["resource"] = MARKETPLACE_APP_ID
        else:
            url = f"{self.authority}/{self.tenant_id}/oauth2/v2.0/token"
            form["scope"] = f"{MARKETPLACE_APP_ID}/.default"
        response = self.session.post(url, data=form, timeout=30)
        self.fetches += 1
        if response.status_code != 200:
            raise AzureAuthError(
                f"Entra token request to {url} failed with HTTP {response.status_code}: "
                f"{response.text[:300]}; check USAGEBILL_AZURE_CLIENT_ID/SECRET/TENANT_ID"
            )
        payload = response.json()
        self._token = payload["access_token"]
        self._expires_at = time.monotonic() + float(payload.get("expires_in", 3600))
        return self._token


def _accepted_quantity(accepted: dict[str, Any]) -> Decimal | None:
    """The quantity Azure holds for a Duplicate (additionalInfo.acceptedMessage.quantity), exact; the
    response is parsed with parse_float=Decimal so no binary float is involved."""
    value = accepted.get("quantity")
    if value is None:
        return None
    try:
        quantity = Decimal(str(value))
    except ArithmeticError:
        return None
    return quantity if quantity.is_finite() and quantity >= 0 else None


def usage_event(row: ReportRow, ident: MarketplaceIdentity) -> dict[str, Any]:
    if row.quantity <= 0:
        raise ValueError(f"{row.key}: Azure quantity must be > 0 (zero is invalid), got {row.quantity}")
    return {
        "resourceId": ident.resource_id,
        "quantity": row.quantity,
        "dimension": row.dimension,
        "effectiveStartTime": rfc3339(row.hour_start),
        "planId": row.request_key or ident.plan_id,
    }


class AzureMeteringTransport(HttpTransport):
    marketplace = "azure"
    closed_detail = "effectiveStartTime older than {window} h"
    endpoint_env = "USAGEBILL_AZURE_METERING_ENDPOINT"
    default_endpoint = "https://marketplaceapi.microsoft.com"

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        token: EntraToken | None = None,
        session: requests.Session | None = None,
        backoff: Backoff | None = None,
        now: Callable[[], datetime] | None = None,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        super().__init__(endpoint, session or requests.Session(), backoff, now, log)
        self.token = token or EntraToken(self.session)

    def _post(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        body = dumps_with_decimals({"request": events})
        request_id = str(uuid.uuid5(_REQUEST_NAMESPACE, body))  # same batch -> same request id

        def once() -> dict[str, Any]:
            for refresh in (False, True):
                self.calls += 1
                response = self.session.post(
                    f"{self.endpoint}/api/batchUsageEvent",
                    params={"api-version": API_VERSION},
                    data=body,
                    headers={
                        "authorization": f"Bearer {self.token.get(force=refresh)}",
                        "content-type": "application/json",
                        "x-ms-requestid": request_id,
                        "x-ms-correlationid": request_id,
                    },
                    timeout=60,
                )
                if response.status_code in (401, 403) and not refresh:
                    continue
                self.check_status(response, AzureRefusal, "Azure batchUsageEvent refused the batch")
                return json.loads(response.text, parse_float=Decimal)
            raise AzureAuthError(
                "Azure metering API refused the token twice (HTTP 401/403): check the "
                "app registration's access to the offer"
            )

        return self._retrying(once)

    def _send_open(
        self, rows: list[ReportRow], identities: Identities, catalog: OfferingCatalog, recovery: bool
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        ready = [(row, usage_event(row, identities[row.customer_ref])) for row in rows]
        for batch in chunks(ready, MAX_BATCH):
            batch_rows = [row for row, _ in batch]
            try:
                response = self._post([event for _, event in batch])
            except RetryableError as exc:
                self.log(f"azure: giving up for this run ({exc})")
                outcomes.extend(unanswered(batch_rows, exc, "azure"))
                continue
            except (AzureAuthError, AzureRefusal) as exc:
                # expired secret, revoked app, whole-batch 4xx: definite refusal, never delivered
                self.log(f"azure: refused ({exc})")
                outcomes.extend(refused(batch_rows, f"azure refused the batch: {exc}"))
                continue
            outcomes.extend(self._outcomes(list(batch), response))
        return outcomes

    @staticmethod
    def _outcomes(batch: list[tuple[ReportRow, dict[str, Any]]], response: dict[str, Any]) -> list[Outcome]:
        by_key = {(e["resourceId"], e["dimension"], e["effectiveStartTime"]): row for row, e in batch}
        outcomes = []
        for item in response.get("result", []):
            accepted = (item.get("error") or {}).get("additionalInfo", {}).get("acceptedMessage") or {}
            resource = item.get("resourceId") or accepted.get("resourceId")
            dimension = item.get("dimension") or accepted.get("dimension")
            start = item.get("effectiveStartTime") or accepted.get("effectiveStartTime")
            start = rfc3339(datetime.fromisoformat(str(start).replace("Z", "+00:00")).astimezone(UTC))
            row = by_key.get((resource, dimension, start))
            if row is None:
                continue
            status = item.get("status")
            if status == "Accepted":
                outcomes.append(Outcome(row, "acknowledged", item.get("usageEventId")))
            elif status == "Duplicate":
                held = _accepted_quantity(accepted)
                note = "Duplicate (409 Conflict): already reported"
                if held is not None and held != row.quantity:
                    note += (
                        f"; QUANTITY DIFFERS: Azure holds {held}, we sent {row.quantity} "
                        f"(difference {row.quantity - held}): the ledger counts Azure's quantity"
                    )
                outcomes.append(
                    Outcome(row, "duplicate", accepted.get("usageEventId"), note, marketplace_quantity=held)
                )
            elif status == "Expired":
                outcomes.append(Outcome(row, "carried", detail="Expired: outside the 24 h window"))
            else:
                message = (item.get("error") or {}).get("message", "")
                outcomes.append(Outcome(row, "failed", detail=f"{status}: {message}"))
        return outcomes
