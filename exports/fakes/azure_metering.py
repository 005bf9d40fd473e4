"""A contract-faithful fake of the Azure Marketplace metering API and the Entra token endpoint.

From the public contract (../shared/api-contracts.md):
- POST /{tenant}/oauth2/token (v1, form: grant_type=client_credentials, client_id, client_secret,
  resource) and /{tenant}/oauth2/v2.0/token (v2: scope=<resource>/.default) -> {access_token, expires_in}.
- POST /api/usageEvent?api-version=2018-08-31 (one event): 200 Accepted {usageEventId,...};
  400 BadArgument / expired; 403 bad token; 409 Conflict duplicate {additionalInfo.acceptedMessage}.
- POST /api/batchUsageEvent?api-version=2018-08-31: {"request": [<= 25 events]} -> 200
  {"count", "result": [{status: Accepted|Expired|Duplicate|Error|ResourceNotFound|ResourceNotAuthorized|
  ResourceNotActive|InvalidDimension|InvalidQuantity|BadArgument, ...}]}.
Event: resourceId, quantity (> 0; zero invalid), dimension, effectiveStartTime (within the last 24 h),
planId. One event per resource + dimension + hour (a second one is a Duplicate).
Injectable: throttling (429), expired tokens, an expired client secret.

Sources: https://learn.microsoft.com/en-us/partner-center/marketplace-offers/marketplace-metering-service-apis
(usage event, batch usage event, 403 "authorization token isn't provided, is invalid or expired", 409
Conflict with additionalInfo.acceptedMessage = the event Azure holds);
https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow (token
request/response, expires_in) and https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
(AADSTS7000222: the client secret keys are expired -> HTTP 401 invalid_client).
Tokens expire `expires_in` seconds after issue on the fake's clock (`now`), so a test that moves the
clock past an hour sees the 403 and the client's refresh.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlparse

from exports.fakes.http_fake import JsonPostFake

MARKETPLACE_APP_ID = "20e940b3-4c77-4b0b-9a53-9e16a1b010a7"
API_VERSION = "2018-08-31"


@dataclass
class AzureSubscription:
    resource_id: str
    plan_id: str
    dimensions: set[str]
    active: bool = True


class FakeAzureMetering(JsonPostFake):
    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        subscriptions: list[AzureSubscription] | None = None,
        window_hours: int = 24,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret
        self.subscriptions = {s.resource_id: s for s in subscriptions or []}
        self.window_hours = window_hours
        self.now = now or (lambda: datetime.now(UTC))
        self.tokens: dict[str, datetime] = {}  # access token -> expiry on the fake's clock
        self.secret_expired = False  # AADSTS7000222: every token request is refused until rotated
        self.token_lifetime = timedelta(seconds=3599)
        self.events: dict[tuple[str, str, datetime], dict[str, Any]] = {}
        self.calls = 0
        self.token_requests = 0
        self.events_received = 0
        self.batch_sizes: list[int] = []
        self.throttle_next = 0

    def respond(self, path: str, headers: Message, body: bytes) -> tuple[int, Any, dict[str, str]]:
        return self.handle(path, dict(headers), body)

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    # ---------------------------------------------------------------- routing
    def handle(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        url = urlparse(path)
        with self._lock:
            if url.path in (f"/{self.tenant_id}/oauth2/token", f"/{self.tenant_id}/oauth2/v2.0/token"):
                return self._token(url.path.endswith("v2.0/token"), body)
            self.calls += 1
            if url.path not in ("/api/usageEvent", "/api/batchUsageEvent"):
                return 404, {"error": {"code": "NotFound", "message": path}}, {}
            if parse_qs(url.query).get("api-version") != [API_VERSION]:
                return (
                    400,
                    {"error": {"code": "BadArgument", "message": f"api-version must be {API_VERSION}"}},
                    {},
                )
            auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
            expiry = self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
            if expiry is None or self.now() >= expiry:
                return 403, {"error": {"code": "Forbidden", "message": "invalid or expired token"}}, {}
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return (
                    429,
                    {"error": {"code": "TooManyRequests", "message": "throttled"}},
                    {"Retry-After": "1"},
                )
            try:
                request = json.loads(body, parse_float=Decimal)
            except ValueError:
                return 400, {"error": {"code": "BadArgument", "message": "body is not JSON"}}, {}
            if url.path == "/api/usageEvent":
                self.events_received += 1
                item = self._event(request if isinstance(request, dict) else {})
                code = {"Accepted": 200, "Duplicate": 409}.get(item["status"], 400)
                return code, item if code != 409 else item["error"], {}
            events = request.get("request") if isinstance(request, dict) else None
            if not isinstance(events, list) or not 1 <= len(events) <= 25:
                return (
                    400,
                    {"error": {"code": "BadArgument", "message": "request must hold 1 to 25 usage events"}},
                    {},
                )
            self.batch_sizes.append(len(events))
            self.events_received += len(events)
            results = [self._event(e if isinstance(e, dict) else {}) for e in events]
            return 200, {"count": len(results), "result": results}, {}

    def _token(self, v2: bool, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        audience_ok = (
            form.get("scope") == f"{MARKETPLACE_APP_ID}/.default"
            if v2
            else form.get("resource") == MARKETPLACE_APP_ID
        )
        if self.secret_expired:
            return (
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000222: The provided client secret keys for app "
                    f"'{self.client_id}' are expired.",
                    "error_codes": [7000222],
                },
                {},
            )
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return 401, {"error": "invalid_client", "error_description": "bad client credentials"}, {}
        if not audience_ok:
            return 400, {"error": "invalid_resource", "error_description": "wrong resource/scope"}, {}
        token = uuid.uuid4().hex
        self.tokens[token] = self.now() + self.token_lifetime
        return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token}, {}

    def _event(self, event: dict[str, Any]) -> dict[str, Any]:
        def error(status: str, message: str, code: str = "BadArgument") -> dict[str, Any]:
            return {**event_echo, "status": status, "error": {"code": code, "message": message}}

        event_echo = {k: (float(v) if isinstance(v, Decimal) else v) for k, v in event.items()}
        resource, dimension, plan = event.get("resourceId"), event.get("dimension"), event.get("planId")
        try:
            quantity = Decimal(str(event.get("quantity")))
            start = datetime.fromisoformat(str(event.get("effectiveStartTime")).replace("Z", "+00:00"))
        except (InvalidOperation, ValueError):
            return error("BadArgument", "quantity and effectiveStartTime are required")
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        subscription = self.subscriptions.get(str(resource))
        if subscription is None:
            return error("ResourceNotFound", f"resource {resource} not found", "ResourceNotFound")
        if not subscription.active:
            return error("ResourceNotActive", "the SaaS subscription is not active", "ResourceNotActive")
        if plan != subscription.plan_id or dimension not in subscription.dimensions:
            return error(
                "InvalidDimension", f"dimension {dimension!r} is not in plan {plan!r}", "InvalidDimension"
            )
        if not quantity.is_finite() or quantity <= 0:
            return error("InvalidQuantity", "quantity must be greater than 0", "InvalidQuantity")
        now = self.now()
        if start > now or now - start >= timedelta(hours=self.window_hours):
            return error("Expired", "effectiveStartTime must be within the last 24 hours", "BadArgument")
        key = (subscription.resource_id, str(dimension), start.replace(minute=0, second=0, microsecond=0))
        accepted = self.events.get(key)
        if accepted is not None:
            return {
                **event_echo,
                "status": "Duplicate",
                "error": {
                    "code": "Conflict",
                    "message": "This usage event already exist.",
                    "additionalInfo": {"acceptedMessage": accepted},
                },
            }
        accepted = {
            "usageEventId": str(uuid.uuid4()),
            "status": "Accepted",
            "messageTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "resourceId": subscription.resource_id,
            "quantity": float(quantity),
            "dimension": dimension,
            "effectiveStartTime": event.get("effectiveStartTime"),
            "planId": plan,
        }
        self.events[key] = {**accepted, "exact_quantity": str(quantity)}
        return accepted

    def quantities(self) -> dict[tuple[str, str, datetime], Decimal]:
        with self._lock:
            return {key: Decimal(e["exact_quantity"]) for key, e in self.events.items()}
