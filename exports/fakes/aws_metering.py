"""A contract-faithful fake of AWS Marketplace Metering BatchMeterUsage, on 127.0.0.1.

Written from the public contract (../shared/api-contracts.md, botocore's service model): JSON 1.1,
X-Amz-Target AWSMPMeteringService.BatchMeterUsage. The real boto3 client talks to it with
endpoint_url=fake.url. Enforced: <= 25 records; Quantity a whole number 0..2147483647; Dimension 1-255
chars; CustomerIdentifier XOR CustomerAWSAccountId; LicenseArn with CustomerAWSAccountId and then no
ProductCode; ProductCode with CustomerIdentifier; every Timestamp inside the window (configurable,
previous month refused after 06:00 UTC on the 1st) else TimestampOutOfBoundsException for the whole
batch. Same customer+dimension+hour: identical quantity -> Success with the first MeteringRecordId
(idempotent retry); different quantity -> DuplicateRecord. Unknown customers -> CustomerNotSubscribed.
Injectable: throttling (400 ThrottlingException), 500 InternalServiceErrorException, UnprocessedRecords.
Signatures are not verified (any credentials work).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

from exports.fakes.http_fake import JsonPostFake

TARGET = "AWSMPMeteringService.BatchMeterUsage"
MAX_QUANTITY = 2_147_483_647


@dataclass
class AcceptedRecord:
    customer: str
    dimension: str
    hour: datetime
    quantity: int
    metering_record_id: str
    timestamp: Any
    license_arn: str | None
    product_code: str | None


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _window_ok(ts: datetime, now: datetime, window_hours: int) -> bool:
    if ts > now or now - ts >= timedelta(hours=window_hours):
        return False
    if (ts.year, ts.month) == (now.year, now.month):
        return True
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous = (first - timedelta(days=1)).replace(day=1)
    return (ts.year, ts.month) == (previous.year, previous.month) and now < first + timedelta(hours=6)


class FakeAwsMetering(JsonPostFake):
    """Start with `with FakeAwsMetering(subscribed={...}) as fake:`; point boto3 at fake.url."""

    content_type = "application/x-amz-json-1.1"

    def __init__(
        self,
        subscribed: set[str] | None = None,
        window_hours: int = 6,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.subscribed = set(subscribed or ())
        self.window_hours = window_hours
        self.now = now or (lambda: datetime.now(UTC))
        self.records: dict[tuple[str, str, datetime], AcceptedRecord] = {}
        self.calls = 0
        self.records_received = 0
        self.batch_sizes: list[int] = []
        self.throttle_next = 0
        self.internal_error_next = 0
        self.unprocessed_next: list[int] = []  # per call: leave the last N records unprocessed

    # ---------------------------------------------------------------- server
    def respond(self, path: str, headers: Message, body: bytes) -> tuple[int, Any, dict[str, str]]:
        status, payload = self.handle(headers.get("X-Amz-Target", ""), body)
        return status, payload, {"x-amzn-RequestId": str(uuid.uuid4())}

    # ---------------------------------------------------------------- contract
    def handle(self, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls += 1
            try:
                return 200, self._batch_meter_usage(target, body)
            except _Error as exc:
                return exc.status, {"__type": exc.code, "message": exc.message}

    def _batch_meter_usage(self, target: str, body: bytes) -> dict[str, Any]:
        if target != TARGET:
            raise _Error(400, "UnknownOperationException", f"unknown X-Amz-Target {target!r}")
        if self.throttle_next > 0:
            self.throttle_next -= 1
            raise _Error(400, "ThrottlingException", "Rate exceeded")
        if self.internal_error_next > 0:
            self.internal_error_next -= 1
            raise _Error(500, "InternalServiceErrorException", "internal error (injected)")
        try:
            request = json.loads(body)
        except ValueError:
            raise _Error(400, "SerializationException", "body is not JSON") from None
        records = request.get("UsageRecords")
        product_code = request.get("ProductCode")
        if not isinstance(records, list):
            raise _Error(400, "ValidationException", "UsageRecords is required")
        if len(records) > 25:
            raise _Error(
                400,
                "ValidationException",
                f"1 validation error detected: UsageRecords has {len(records)} members; at most 25",
            )
        if len(body) >= 1_000_000:
            raise _Error(400, "ValidationException", "request must be less than 1 MB")
        now = self.now()
        parsed = []
        for i, record in enumerate(records):
            parsed.append(self._validate(i, record, product_code, now))
        self.batch_sizes.append(len(records))
        self.records_received += len(records)
        unprocessed_count = self.unprocessed_next.pop(0) if self.unprocessed_next else 0
        cut = len(records) - min(unprocessed_count, len(records))
        results = []
        for record, (customer, hour) in zip(records[:cut], parsed[:cut], strict=True):
            results.append(self._meter(record, customer, hour, product_code))
        return {"Results": results, "UnprocessedRecords": records[cut:]}

    def _validate(
        self, i: int, record: dict[str, Any], product_code: str | None, now: datetime
    ) -> tuple[str, datetime]:
        where = f"UsageRecords[{i}]"
        dimension = record.get("Dimension")
        if not isinstance(dimension, str) or not 1 <= len(dimension) <= 255:
            raise _Error(400, "ValidationException", f"{where}.Dimension must be 1-255 characters")
        quantity = record.get("Quantity", 0)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= MAX_QUANTITY:
            raise _Error(400, "ValidationException", f"{where}.Quantity must be an integer 0..{MAX_QUANTITY}")
        identifier, account = record.get("CustomerIdentifier"), record.get("CustomerAWSAccountId")
        if bool(identifier) == bool(account):
            raise _Error(
                400,
                "ValidationException",
                f"{where}: exactly one of CustomerIdentifier or CustomerAWSAccountId is required",
            )
        license_arn = record.get("LicenseArn")
        if account and not license_arn:
            raise _Error(400, "InvalidLicenseException", f"{where}: CustomerAWSAccountId needs LicenseArn")
        if license_arn and product_code:
            raise _Error(
                400,
                "ValidationException",
                f"{where}: do not send ProductCode with LicenseArn (it would bill twice)",
            )
        if identifier and not product_code:
            raise _Error(
                400, "InvalidProductCodeException", "ProductCode is required with CustomerIdentifier"
            )
        try:
            ts = datetime.fromtimestamp(float(record["Timestamp"]), UTC)
        except (KeyError, TypeError, ValueError):
            raise _Error(
                400, "ValidationException", f"{where}.Timestamp is required (epoch seconds)"
            ) from None
        if not _window_ok(ts, now, self.window_hours):
            raise _Error(
                400,
                "TimestampOutOfBoundsException",
                f"{where}.Timestamp {ts.isoformat()} is outside the accepted window",
            )
        customer = account or identifier
        return customer, ts.replace(minute=0, second=0, microsecond=0)

    def _meter(
        self, record: dict[str, Any], customer: str, hour: datetime, product_code: str | None
    ) -> dict[str, Any]:
        quantity = int(record.get("Quantity", 0))
        subscribed_key = record.get("LicenseArn") or customer
        if subscribed_key not in self.subscribed and customer not in self.subscribed:
            return {"UsageRecord": record, "Status": "CustomerNotSubscribed"}
        key = (customer, record["Dimension"], hour)
        existing = self.records.get(key)
        if existing is None:
            accepted = AcceptedRecord(
                customer,
                record["Dimension"],
                hour,
                quantity,
                uuid.uuid4().hex,
                record["Timestamp"],
                record.get("LicenseArn"),
                product_code,
            )
            self.records[key] = accepted
            return {
                "UsageRecord": record,
                "MeteringRecordId": accepted.metering_record_id,
                "Status": "Success",
            }
        if existing.quantity == quantity:  # identical retry: idempotent
            return {
                "UsageRecord": record,
                "MeteringRecordId": existing.metering_record_id,
                "Status": "Success",
            }
        return {"UsageRecord": record, "Status": "DuplicateRecord"}

    # ---------------------------------------------------------------- inspection
    def quantities(self) -> dict[tuple[str, str, datetime], int]:
        with self._lock:
            return {key: record.quantity for key, record in self.records.items()}
