"""The Stripe calls the exporter makes, with one retry policy and hooks around every call.

Retry policy: 429 (rate limit), 409 (lock conflict), 5xx and connection errors are retried with the SAME
idempotency key, exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**attempt)),
at most `max_attempts` tries in all. The SDK's own retries are off (max_network_retries=0) so retries never
multiply. Any other 4xx is final and raised to the caller (which reports it naming the invoice).

Hooks: `hook(position, call_number, name)` is called with position "before" and "after" every call (after =
the response arrived, before the ledger write). Tests raise from it to inject crashes between calls.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stripe

Hook = Callable[[str, int, str], None]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 8.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap_seconds, self.base_seconds * (2**attempt)))


def is_retryable(error: Exception) -> bool:
    if isinstance(error, stripe.RateLimitError | stripe.APIConnectionError):
        return True
    if isinstance(error, stripe.IdempotencyError):
        return False
    status = getattr(error, "http_status", None)
    return status is not None and (status in (409, 429) or status >= 500)


def to_plain(obj: Any) -> Any:
    """StripeObject -> plain dict/list (StripeObject is not a dict in SDK 16)."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return obj


class StripeApi:
    """Every call the exporter, reconciliation and polling make, through the official SDK."""

    def __init__(
        self,
        client: stripe.StripeClient,
        policy: RetryPolicy | None = None,
        hook: Hook | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self.hook = hook
        self.sleep = sleep
        self.rng = random.Random(seed)
        self.calls = 0
        self.retries = 0

    def _call(self, name: str, fn: Callable[[], Any]) -> Any:
        self.calls += 1
        n = self.calls
        if self.hook:
            self.hook("before", n, name)
        attempt = 0
        while True:
            try:
                result = fn()
                break
            except stripe.StripeError as e:
                attempt += 1
                if not is_retryable(e) or attempt >= self.policy.max_attempts:
                    raise
                self.retries += 1
                self.sleep(self.policy.delay(attempt, self.rng))
        if self.hook:
            self.hook("after", n, name)
        return to_plain(result)

    @staticmethod
    def _opts(key: str | None) -> dict[str, Any]:
        return {"idempotency_key": key} if key else {}

    # -- customers
    def search_customers(self, query: str) -> list[dict[str, Any]]:
        res = self._call("search_customers", lambda: self.client.v1.customers.search(params={"query": query}))
        return list(res["data"])

    def create_customer(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self._call(
            "create_customer", lambda: self.client.v1.customers.create(params=params, options=self._opts(key))
        )

    # -- invoices
    def search_invoices(self, query: str) -> list[dict[str, Any]]:
        res = self._call("search_invoices", lambda: self.client.v1.invoices.search(params={"query": query}))
        return list(res["data"])

    def create_invoice(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self._call(
            "create_invoice", lambda: self.client.v1.invoices.create(params=params, options=self._opts(key))
        )

    def retrieve_invoice(self, invoice_id: str) -> dict[str, Any]:
        return self._call("retrieve_invoice", lambda: self.client.v1.invoices.retrieve(invoice_id))

    def finalize_invoice(self, invoice_id: str, key: str) -> dict[str, Any]:
        return self._call(
            "finalize_invoice",
            lambda: self.client.v1.invoices.finalize_invoice(
                invoice_id, params={"auto_advance": False}, options=self._opts(key)
            ),
        )

    def pay_invoice(self, invoice_id: str, params: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        return self._call(
            "pay_invoice",
            lambda: self.client.v1.invoices.pay(invoice_id, params=params, options=self._opts(key)),
        )

    def void_invoice(self, invoice_id: str, key: str | None = None) -> dict[str, Any]:
        return self._call(
            "void_invoice", lambda: self.client.v1.invoices.void_invoice(invoice_id, options=self._opts(key))
        )

    def _list_all(
        self, name: str, fetch: Callable[[dict[str, Any]], Any], params: dict[str, Any]
    ) -> list[dict]:
        out: list[dict[str, Any]] = []
        page_params = dict(params, limit=100)
        while True:
            page = self._call(name, lambda p=dict(page_params): fetch(p))
            out.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return out
            page_params["starting_after"] = page["data"][-1]["id"]

    # -- invoice items
    def list_invoice_items(self, invoice_id: str) -> list[dict[str, Any]]:
        return self._list_all(
            "list_invoice_items",
            lambda p: self.client.v1.invoice_items.list(params=p),
            {"invoice": invoice_id},
        )

    def create_invoice_item(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self._call(
            "create_invoice_item",
            lambda: self.client.v1.invoice_items.create(params=params, options=self._opts(key)),
        )

    # -- credit notes
    def list_credit_notes(self, invoice_id: str) -> list[dict[str, Any]]:
        return self._list_all(
            "list_credit_notes", lambda p: self.client.v1.credit_notes.list(params=p), {"invoice": invoice_id}
        )

    def create_credit_note(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self._call(
            "create_credit_note",
            lambda: self.client.v1.credit_notes.create(params=params, options=self._opts(key)),
        )

    # -- events
    def list_events(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._call("list_events", lambda: self.client.v1.events.list(params=params))


class PlannedCallsApi:
    """Dry run: records the calls the exporter would make (JSONL) and answers with placeholder ids.
    Nothing is sent and the ledger is not written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("w")
        self.calls = 0
        self.retries = 0

    def _plan(self, method: str, path: str, params: dict[str, Any] | None, key: str | None) -> str:
        self.calls += 1
        self._fh.write(
            json.dumps(
                {"n": self.calls, "method": method, "path": path, "idempotency_key": key, "params": params},
                default=str,
            )
            + "\n"
        )
        self._fh.flush()
        return f"dryrun_{self.calls}"

    def close(self) -> None:
        self._fh.close()

    def search_customers(self, query: str) -> list[dict[str, Any]]:
        self._plan("GET", "/v1/customers/search", {"query": query}, None)
        return []

    def create_customer(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return {"id": "cus_" + self._plan("POST", "/v1/customers", params, key)}

    def search_invoices(self, query: str) -> list[dict[str, Any]]:
        self._plan("GET", "/v1/invoices/search", {"query": query}, None)
        return []

    def create_invoice(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return {"id": "in_" + self._plan("POST", "/v1/invoices", params, key), "status": "draft", "total": 0}

    def create_invoice_item(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return {
            "id": "ii_" + self._plan("POST", "/v1/invoiceitems", params, key),
            "amount": params.get("amount"),
        }

    def list_invoice_items(self, invoice_id: str) -> list[dict[str, Any]]:
        return []

    def retrieve_invoice(self, invoice_id: str) -> dict[str, Any]:
        raise NotImplementedError("dry run never retrieves")

    def finalize_invoice(self, invoice_id: str, key: str) -> dict[str, Any]:
        self._plan("POST", f"/v1/invoices/{invoice_id}/finalize", {"auto_advance": False}, key)
        return {"id": invoice_id, "status": "open", "number": None}

    def list_credit_notes(self, invoice_id: str) -> list[dict[str, Any]]:
        return []

    def create_credit_note(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return {"id": "cn_" + self._plan("POST", "/v1/credit_notes", params, key)}
