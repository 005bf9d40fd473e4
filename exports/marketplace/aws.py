"""AWS Marketplace Metering: BatchMeterUsage through the real boto3 client.

Contract (../shared/api-contracts.md), enforced here before any call: <= 25 records per call; Quantity a
whole number 0..2147483647; CustomerIdentifier (legacy, with the request's ProductCode) XOR
CustomerAWSAccountId + LicenseArn (new SaaS integrations, no ProductCode); one product per call.
Results: Success -> acknowledged; DuplicateRecord -> duplicate (AWS already holds a record for that
customer+dimension+hour); CustomerNotSubscribed -> failed (quantity goes with the next hour);
UnprocessedRecords are resent; ThrottlingException / InternalServiceErrorException are retried with
backoff; TimestampOutOfBoundsException rejects the whole batch -> carried.

Settings (env): USAGEBILL_AWS_METERING_ENDPOINT (e.g. http://127.0.0.1:PORT for the fake/moto),
AWS_REGION / AWS_DEFAULT_REGION (default us-east-1); credentials through boto3's environment chain
(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a role). boto3's own retries are switched off so that
retries and their count are ours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from exports.marketplace.catalog import MarketplaceIdentity, OfferingCatalog
from exports.marketplace.ledger import ReportRow
from exports.marketplace.transport import (
    MAX_BATCH,
    Backoff,
    Identities,
    Outcome,
    RetryableError,
    WindowedTransport,
    chunks,
    env,
    unanswered,
)

MAX_QUANTITY = 2_147_483_647
RETRYABLE = {"ThrottlingException", "InternalServiceErrorException", "InternalServiceError"}
# BatchMeterUsage result Status -> ledger state and detail; any other status (CustomerNotSubscribed) is failed
RESULT_STATES: dict[str | None, tuple[str, str | None]] = {
    "Success": ("acknowledged", None),
    "DuplicateRecord": ("duplicate", "DuplicateRecord: AWS already holds this customer+dimension+hour"),
}


class AwsContractError(ValueError):
    pass


def make_client(endpoint_url: str | None = None, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "meteringmarketplace",
        region_name=region or env("AWS_REGION") or env("AWS_DEFAULT_REGION") or "us-east-1",
        endpoint_url=endpoint_url or env("USAGEBILL_AWS_METERING_ENDPOINT"),
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=30
        ),
    )


def usage_record(row: ReportRow, ident: MarketplaceIdentity) -> dict[str, Any]:
    quantity = row.quantity
    if quantity != quantity.to_integral_value() or not 0 <= quantity <= MAX_QUANTITY:
        raise AwsContractError(
            f"{row.key}: Quantity must be a whole number 0..{MAX_QUANTITY}, got {quantity}"
        )
    if not 1 <= len(row.dimension) <= 255:
        raise AwsContractError(f"{row.key}: Dimension must be 1-255 characters")
    record: dict[str, Any] = {
        "Timestamp": row.hour_start,
        "Dimension": row.dimension,
        "Quantity": int(quantity),
    }
    if ident.license_arn and ident.account_id:
        record["CustomerAWSAccountId"] = ident.account_id
        record["LicenseArn"] = ident.license_arn
    elif ident.customer_identifier:
        record["CustomerIdentifier"] = ident.customer_identifier
    else:
        raise AwsContractError(
            f"customer {ident.customer_label}: needs account_id + license_arn or "
            "customer_identifier in marketplace_customers.yaml"
        )
    return record


def _record_key(record: dict[str, Any]) -> tuple[str, str, datetime]:
    ts = record["Timestamp"]
    if isinstance(ts, datetime):
        ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    customer = record.get("CustomerAWSAccountId") or record.get("CustomerIdentifier") or ""
    return (customer, record["Dimension"], ts)


class AwsMeteringTransport(WindowedTransport):
    marketplace = "aws"
    closed_detail = "Timestamp outside the {window} h window"

    def __init__(
        self,
        client: Any = None,
        *,
        backoff: Backoff | None = None,
        now: Callable[[], datetime] | None = None,
        window_hours: int | None = None,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        super().__init__(backoff, now, log, window_hours)
        self.client = client or make_client()

    def _call(self, records: list[dict[str, Any]], product_code: str | None) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        params: dict[str, Any] = {"UsageRecords": records}
        if product_code:
            params["ProductCode"] = product_code

        def once() -> dict[str, Any]:
            self.calls += 1
            try:
                return self.client.batch_meter_usage(**params)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if (
                    code in RETRYABLE
                    or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
                ):
                    raise RetryableError(f"{code}: {exc}", throttled=code == "ThrottlingException") from exc
                raise

        return self._retrying(once)

    def _send_open(
        self, rows: list[ReportRow], identities: Identities, catalog: OfferingCatalog, recovery: bool
    ) -> list[Outcome]:
        from botocore.exceptions import ClientError

        groups: dict[str | None, list[tuple[ReportRow, dict[str, Any]]]] = defaultdict(list)
        outcomes: list[Outcome] = []
        for row in rows:
            ident = identities[row.customer_ref]
            record = usage_record(row, ident)
            product = None if "LicenseArn" in record else catalog.listing("aws", row.offering_id).product_code
            groups[product].append((row, record))
        for product, items in groups.items():
            for batch in chunks(items, MAX_BATCH):
                outcomes.extend(self._send_batch(list(batch), product, ClientError))
        return outcomes

    def _send_batch(
        self,
        batch: list[tuple[ReportRow, dict[str, Any]]],
        product: str | None,
        client_error: type[Exception],
    ) -> list[Outcome]:
        by_key = {_record_key(record): row for row, record in batch}
        todo = [record for _, record in batch]
        outcomes: list[Outcome] = []
        for _ in range(self.backoff.max_attempts):
            try:
                response = self._call(todo, product)
            except RetryableError as exc:
                self.log(f"aws: giving up for this run after {self.backoff.max_attempts} attempts ({exc})")
                return outcomes + unanswered([by_key[_record_key(r)] for r in todo], exc, "aws")
            except client_error as exc:  # type: ignore[misc]
                code = exc.response.get("Error", {}).get("Code", "")  # type: ignore[attr-defined]
                state = "carried" if code == "TimestampOutOfBoundsException" else "failed"
                return outcomes + [
                    Outcome(by_key[_record_key(r)], state, detail=f"{code}: {exc}") for r in todo
                ]
            for result in response.get("Results", []):
                row = by_key[_record_key(result["UsageRecord"])]
                status = result.get("Status")
                state, detail = RESULT_STATES.get(
                    status, ("failed", f"{status}: not billed; the quantity goes with the next hour")
                )
                outcomes.append(Outcome(row, state, result.get("MeteringRecordId"), detail))
            todo = list(response.get("UnprocessedRecords") or [])
            if not todo:
                return outcomes
            self.log(f"aws: resending {len(todo)} UnprocessedRecords")
            todo = [dict(r, Timestamp=_record_key(r)[2]) for r in todo]
        return outcomes
