"""A contract-faithful fake of Google Service Control (services.check + services.report) and of Google's
OAuth 2.0 token endpoint for service accounts, for Marketplace SaaS usage reporting.

Sources (each rule below names its own):
- [USAGE] Configure usage reporting to Google:
  https://cloud.google.com/marketplace/docs/partners/integrated-saas/configure-usage-reports
  "you must first make a services.check API call ... if the checkErrors[] object is empty, make a
  services.report API call"; the report is a Service Control Operation with operationId, operationName,
  consumerId (the entitlement's usageReportingId), startTime, endTime, metricValueSets.
- [CHECK] services.check: https://cloud.google.com/service-infrastructure/docs/service-control/reference/rest/v1/services/check
  request {"operation": Operation}; response {operationId, checkErrors[{code, subject, detail}]};
  codes used here: SERVICE_NOT_ACTIVATED (consumer has no active entitlement), CONSUMER_INVALID.
- [REPORT] services.report: https://cloud.google.com/service-infrastructure/docs/service-control/reference/rest/v1/services/report
  request {"operations": [...]}, partial failure in reportErrors[{operationId, status{code, message}}];
  the request must be smaller than 1 MB.
- [OAUTH] Using OAuth 2.0 for Server to Server Applications:
  https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests
  POST token_uri with grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and assertion = a JWT signed
  RS256 by the service account key, claims iss, scope, aud (= token_uri), exp (<= 1 h after iat), iat;
  the access token expires after 1 h (expires_in 3600); an expired or unknown token gets HTTP 401
  UNAUTHENTICATED (https://cloud.google.com/apis/design/errors#handling_errors).
- [CONTRACT] ../shared/api-contracts.md: report within the window after usage; consecutive windows of a
  consumer are contiguous.

Stricter readings (where the docs are silent): a re-sent operationId is NOT de-duplicated (Google
documents no such guarantee): it is processed like any other operation, so a window that was already
accepted fails the contiguity rule instead of being silently dropped. A report for an operation that was
not checked first is accepted but counted in `unchecked_reports` (tests assert it stays 0).
Injectable: 429 throttling bursts, reportErrors for chosen operation ids, token expiry, inactive
consumers (check errors), wrong service-account keys.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

from exports.fakes.http_fake import JsonPostFake

SCOPE = "https://www.googleapis.com/auth/servicecontrol"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/token"
MAX_BODY = 1_000_000


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class FakeServiceControl(JsonPostFake):
    def __init__(
        self,
        service: str,
        service_account_email: str,
        public_key_pem: bytes,
        consumers: set[str],
        metrics: set[str],
        window_hours: int = 2,
        now: Callable[[], datetime] | None = None,
        token_lifetime_seconds: int = 3600,
    ) -> None:
        super().__init__()
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        self.service = service
        self.service_account_email = service_account_email
        self.public_key = load_pem_public_key(public_key_pem)
        self.consumers = set(consumers)
        self.inactive_consumers: set[str] = set()
        self.metrics = set(metrics)
        self.window_hours = window_hours
        self.now = now or (lambda: datetime.now(UTC))
        self.token_lifetime_seconds = token_lifetime_seconds
        self.tokens: dict[str, float] = {}  # access token -> expiry (time.time())
        self.operations: dict[str, dict[str, Any]] = {}  # operationId -> last accepted operation
        self.accepted: list[dict[str, Any]] = []  # every accepted operation (a re-send counts again)
        self.checked: set[str] = set()
        self.last_end: dict[str, datetime] = {}
        self.calls = 0
        self.check_calls = 0
        self.token_requests = 0
        self.operations_received = 0
        self.unchecked_reports = 0
        self.throttle_next = 0
        self.fail_operation_ids: set[str] = set()

    # ---------------------------------------------------------------- plumbing
    def respond(self, path: str, headers: Message, body: bytes) -> tuple[int, Any, dict[str, str]]:
        status, payload = self.handle(path, headers.get("Authorization", ""), body)
        return status, payload, {}

    @staticmethod
    def _status(code: int, status: str, message: str) -> dict[str, Any]:
        return {"error": {"code": code, "status": status, "message": message}}

    def expire_tokens(self) -> None:
        """Every issued access token expires now (the next call gets 401 and must refresh)."""
        with self._lock:
            self.tokens.clear()

    def handle(self, path: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if path == TOKEN_PATH:
                return self._token(body)
            self.calls += 1
            check_path, report_path = (
                f"/v1/services/{self.service}:check",
                f"/v1/services/{self.service}:report",
            )
            if path not in (check_path, report_path):
                return 404, self._status(404, "NOT_FOUND", f"unknown service path {path}")
            token = authorization[7:] if authorization.startswith("Bearer ") else ""
            if self.tokens.get(token, 0) <= time.time():  # [OAUTH] expired or unknown -> 401
                return 401, self._status(401, "UNAUTHENTICATED", "missing, invalid or expired access token")
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return 429, self._status(429, "RESOURCE_EXHAUSTED", "quota exceeded (injected)")
            if len(body) > MAX_BODY:  # [REPORT] < 1 MB
                return 400, self._status(400, "INVALID_ARGUMENT", "request larger than 1 MB")
            try:
                request = json.loads(body)
            except ValueError:
                return 400, self._status(400, "INVALID_ARGUMENT", "body is not JSON")
            if path == check_path:
                return self._check(request)
            return self._report(request)

    # ---------------------------------------------------------------- OAuth token endpoint [OAUTH]
    def _token(self, body: bytes) -> tuple[int, dict[str, Any]]:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != JWT_BEARER:
            return 400, {"error": "unsupported_grant_type", "error_description": f"use {JWT_BEARER}"}
        try:
            header_b64, claims_b64, signature_b64 = form["assertion"].split(".")
            header, claims = json.loads(_b64(header_b64)), json.loads(_b64(claims_b64))
            self.public_key.verify(  # type: ignore[union-attr, call-arg]
                _b64(signature_b64),
                f"{header_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),  # type: ignore[arg-type]
                hashes.SHA256(),  # type: ignore[arg-type]
            )
        except (KeyError, ValueError, InvalidSignature):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        now = time.time()
        if header.get("alg") != "RS256" or claims.get("iss") != self.service_account_email:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: iss or alg"}
        if not str(claims.get("aud", "")).endswith(TOKEN_PATH):
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid JWT: aud must be the token_uri",
            }
        if SCOPE not in str(claims.get("scope", "")).split():
            return 400, {"error": "invalid_scope", "error_description": f"scope {SCOPE} is required"}
        exp, iat = int(claims.get("exp", 0)), int(claims.get("iat", 0))
        if exp <= now or exp - iat > 3600:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid JWT: expired or exp-iat > 1 h",
            }
        token = uuid.uuid4().hex
        self.tokens[token] = now + self.token_lifetime_seconds
        return 200, {"access_token": token, "expires_in": self.token_lifetime_seconds, "token_type": "Bearer"}

    # ---------------------------------------------------------------- services.check [CHECK]
    def _check(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.check_calls += 1
        op = request.get("operation") if isinstance(request, dict) else None
        if not isinstance(op, dict) or not op.get("operationId"):
            return 400, self._status(400, "INVALID_ARGUMENT", "operation with operationId is required")
        consumer = op.get("consumerId")
        response: dict[str, Any] = {"operationId": op["operationId"], "serviceConfigId": "fake-config"}
        if consumer not in self.consumers:
            response["checkErrors"] = [
                {"code": "CONSUMER_INVALID", "subject": str(consumer), "detail": "unknown consumer"}
            ]
        elif consumer in self.inactive_consumers:
            response["checkErrors"] = [
                {
                    "code": "SERVICE_NOT_ACTIVATED",
                    "subject": str(consumer),
                    "detail": "the consumer has no active entitlement",
                }
            ]
        else:
            self.checked.add(op["operationId"])
        return 200, response

    # ---------------------------------------------------------------- services.report [REPORT]
    def _report(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        operations = request.get("operations") if isinstance(request, dict) else None
        if not isinstance(operations, list):
            return 400, self._status(400, "INVALID_ARGUMENT", 'body must be {"operations": [...]}')
        errors = []
        for op in operations:
            self.operations_received += 1
            problem = self._operation(op if isinstance(op, dict) else {})
            if problem:
                errors.append(
                    {
                        "operationId": op.get("operationId"),
                        "status": {"code": problem[0], "message": problem[1]},
                    }
                )
        response: dict[str, Any] = {"serviceConfigId": "fake-config", "serviceRolloutId": "fake-rollout"}
        if errors:
            response["reportErrors"] = errors
        return 200, response

    def _operation(self, op: dict[str, Any]) -> tuple[int, str] | None:
        op_id = op.get("operationId")
        if not op_id:
            return 3, "operationId is required"
        if op_id not in self.checked:
            self.unchecked_reports += 1
        if op_id in self.fail_operation_ids:
            return 13, "internal error (injected)"
        consumer = op.get("consumerId")
        if consumer not in self.consumers or consumer in self.inactive_consumers:
            return 7, f"consumer {consumer!r} has no active entitlement"
        try:
            start, end = _time(op["startTime"]), _time(op["endTime"])
        except (KeyError, ValueError):
            return 3, "startTime and endTime are required (RFC 3339)"
        if end <= start:
            return 3, "endTime must be after startTime"
        previous = self.last_end.get(consumer)
        if previous is not None and start != previous:  # [CONTRACT] contiguous (also refuses overlaps)
            return (
                3,
                f"report windows must be contiguous: startTime {start.isoformat()} != previous endTime "
                f"{previous.isoformat()}",
            )
        now = self.now()
        if end > now or now - end >= timedelta(hours=self.window_hours):
            return 3, f"usage must be reported within {self.window_hours} h of the window's end"
        for value_set in op.get("metricValueSets", []):
            if value_set.get("metricName") not in self.metrics:
                return 3, f"unknown metric {value_set.get('metricName')!r} for service {self.service}"
            for value in value_set.get("metricValues", []):
                try:
                    if int(value["int64Value"]) < 0:
                        return 3, "int64Value must be >= 0"
                except (KeyError, ValueError):
                    return 3, "metricValues need int64Value"
        self.operations[op_id] = op
        self.accepted.append(op)
        self.last_end[consumer] = end
        return None

    def totals(self) -> dict[tuple[str, str], int]:
        """Accepted quantity per (consumer, metric): every accepted operation counts (no de-duplication)."""
        out: dict[tuple[str, str], int] = {}
        with self._lock:
            for op in self.accepted:
                for value_set in op.get("metricValueSets", []):
                    key = (op["consumerId"], value_set["metricName"])
                    out[key] = out.get(key, 0) + sum(int(v["int64Value"]) for v in value_set["metricValues"])
        return out


SERVICE_ACCOUNT_EMAIL = "usagebill@fake-project.iam.gserviceaccount.com"


def new_service_account_key() -> tuple[str, bytes]:
    """A fresh RSA key pair for a fake service account: (private key PEM, public key PEM for the fake)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def service_account_info(
    private_pem: str, token_uri: str, email: str = SERVICE_ACCOUNT_EMAIL
) -> dict[str, str]:
    """Service-account JSON (the key file format) for
    google.oauth2.service_account.Credentials.from_service_account_info, pointing at `token_uri`."""
    return {
        "type": "service_account",
        "project_id": "fake-project",
        "private_key_id": uuid.uuid5(uuid.NAMESPACE_URL, private_pem).hex,
        "private_key": private_pem,
        "client_email": email,
        "client_id": "1234567890",
        "token_uri": token_uri,
    }
