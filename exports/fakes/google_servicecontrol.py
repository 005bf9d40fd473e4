"""A contract-faithful fake of Google Service Control services/{service}:report (Marketplace SaaS usage).

From the public contract (../shared/api-contracts.md): POST /v1/services/{SERVICE}:report with
{"operations": [{operationId, operationName, consumerId, startTime, endTime,
metricValueSets: [{metricName, metricValues: [{int64Value}]}], userLabels}]}, body <= 1 MB, Bearer token.
Per operation (partial failure in reportErrors[{operationId, status{code, message}}]):
- an operationId already accepted is deduplicated (accepted again, counted once);
- consumerId must be a known usageReportingId (else PERMISSION_DENIED, code 7);
- metric names must belong to the service (INVALID_ARGUMENT, code 3);
- windows per consumer must be contiguous: startTime == the previous accepted endTime (code 3);
- the window must have ended less than `window_hours` ago ("report within one hour"; code 3).
Injectable: 429 throttling, a reportError for chosen operation ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

from exports.fakes.http_fake import JsonPostFake


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


class FakeServiceControl(JsonPostFake):
    def __init__(
        self,
        service: str,
        access_token: str,
        consumers: set[str],
        metrics: set[str],
        window_hours: int = 1,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.service = service
        self.access_token = access_token
        self.consumers = set(consumers)
        self.metrics = set(metrics)
        self.window_hours = window_hours
        self.now = now or (lambda: datetime.now(UTC))
        self.operations: dict[str, dict[str, Any]] = {}  # operationId -> accepted operation
        self.last_end: dict[str, datetime] = {}
        self.calls = 0
        self.operations_received = 0
        self.throttle_next = 0
        self.fail_operation_ids: set[str] = set()

    def respond(self, path: str, headers: Message, body: bytes) -> tuple[int, Any, dict[str, str]]:
        status, payload = self.handle(path, headers.get("Authorization", ""), body)
        return status, payload, {}

    @staticmethod
    def _status(code: int, status: str, message: str) -> dict[str, Any]:
        return {"error": {"code": code, "status": status, "message": message}}

    def handle(self, path: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls += 1
            if path != f"/v1/services/{self.service}:report":
                return 404, self._status(404, "NOT_FOUND", f"unknown service path {path}")
            if authorization != f"Bearer {self.access_token}":
                return 401, self._status(401, "UNAUTHENTICATED", "missing or invalid access token")
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return 429, self._status(429, "RESOURCE_EXHAUSTED", "quota exceeded (injected)")
            if len(body) > 1_000_000:
                return 400, self._status(400, "INVALID_ARGUMENT", "request larger than 1 MB")
            try:
                operations = json.loads(body)["operations"]
            except (ValueError, KeyError, TypeError):
                return 400, self._status(400, "INVALID_ARGUMENT", 'body must be {"operations": [...]}')
            errors = []
            for op in operations:
                self.operations_received += 1
                problem = self._operation(op)
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
        if op_id in self.operations:
            return None  # deduplicated: accepted once already
        if op_id in self.fail_operation_ids:
            return 13, "internal error (injected)"
        consumer = op.get("consumerId")
        if consumer not in self.consumers:
            return 7, f"consumer {consumer!r} has no active entitlement"
        try:
            start, end = _time(op["startTime"]), _time(op["endTime"])
        except (KeyError, ValueError):
            return 3, "startTime and endTime are required (RFC 3339)"
        if end <= start:
            return 3, "endTime must be after startTime"
        previous = self.last_end.get(consumer)
        if previous is not None and start != previous:
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
        self.last_end[consumer] = end
        return None

    def totals(self) -> dict[tuple[str, str], int]:
        """Accepted quantity per (consumer, metric), each operation counted once."""
        out: dict[tuple[str, str], int] = {}
        with self._lock:
            for op in self.operations.values():
                for value_set in op.get("metricValueSets", []):
                    key = (op["consumerId"], value_set["metricName"])
                    out[key] = out.get(key, 0) + sum(int(v["int64Value"]) for v in value_set["metricValues"])
        return out
