"""The Stripe calls the exporter makes, with one retry policy and hooks around every call.

Retry policy: 429 (rate limit), 409 (lock conflict), 5xx and connection errors are retried with the SAME
idempotency key, exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**attempt)),
at most `max_attempts` tries in all. The SDK's own retries are off (max_network_retries=0) so retries never
multiply. Any other 4xx is final and raised to the caller (which reports it naming the invoice).

Rate: every call first takes a slot from a shared `RateLimiter` (requests per second, configurable; Stripe
documents 25/s in test mode and 100/s in live mode, https://docs.stripe.com/rate-limits), so worker threads
together never exceed it. A 429 is honoured: the call waits `Retry-After` seconds when Stripe sends the header
(else the backoff), and the limiter pauses every thread for that long. `Stripe-Should-Retry: false` makes an
error final, `true` makes it retryable (https://docs.stripe.com/error-low-level#idempotency).

Saved errors: Stripe saves the result of a keyed request once the endpoint began executing, including 500
errors, and replays it for every retry with the same key (https://docs.stripe.com/api/idempotent_requests).
A 5xx that comes back with `Idempotent-Replayed: true` therefore can never succeed with that key: it is raised
at once as `SavedErrorReplay` and the exporter looks the object up, then uses a new key generation.

Hooks: `hook(position, call_number, name)` is called with position "before" and "after" every call (after =
the response arrived, before the ledger write). Tests raise from it to inject crashes between calls.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
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


class SavedErrorReplay(Exception):
    """Stripe replayed a saved 5xx for this idempotency key: retrying with the same key is pointless."""

    def __init__(self, key: str | None, error: stripe.StripeError) -> None:
        super().__init__(
            f"Stripe replayed a saved HTTP {error.http_status} for Idempotency-Key {key}: {error.user_message}"
        )
        self.key = key
        self.error = error


def _header(error: Exception, name: str) -> str | None:
    headers = getattr(error, "headers", None) or {}
    for k, v in dict(headers).items():
        if k.lower() == name.lower():
            return str(v)
    return None


class RateLimiter:
    """Paces calls to `per_second` across threads (one slot every 1/per_second s); `pause` pushes every
    thread's next slot back (after a 429's Retry-After)."""

    def __init__(self, per_second: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        if per_second is not None and per_second <= 0:
            raise ValueError("rate limit must be > 0 requests per second")
        self.per_second = per_second
        self.clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def wait_time(self) -> float:
        if not self.per_second:
            return 0.0
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.per_second
            return slot - now

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, self.clock() + seconds)


def is_retryable(error: Exception) -> bool:
    should = _header(error, "Stripe-Should-Retry")
    if should in ("true", "false"):
        return should == "true"
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
        rate_limit: float | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self.hook = hook
        self.sleep = sleep
        self.rng = random.Random(seed)
        self.limiter = RateLimiter(rate_limit)
        self.calls = 0
        self.retries = 0
        self.rate_limited = 0  # 429 answers received
        self._lock = threading.Lock()

    def _call(self, name: str, fn: Callable[[], Any], key: str | None = None) -> Any:
        with self._lock:
            self.calls += 1
            n = self.calls
        if self.hook:
            self.hook("before", n, name)
        attempt = 0
        while True:
            wait = self.limiter.wait_time()
            if wait > 0:
                self.sleep(wait)
            try:
                result = fn()
                break
            except stripe.StripeError as e:
                status = getattr(e, "http_status", None) or 0
                if key and status >= 500 and _header(e, "Idempotent-Replayed") == "true":
                    raise SavedErrorReplay(key, e) from e
                attempt += 1
                if not is_retryable(e) or attempt >= self.policy.max_attempts:
                    raise
                with self._lock:
                    self.retries += 1
                    self.rate_limited += status == 429
                delay = self.policy.delay(attempt, self.rng)
                retry_after = _header(e, "Retry-After")
                if status == 429 and retry_after:
                    with contextlib.suppress(ValueError):
                        delay = max(delay, min(float(retry_after), 60.0))
                if status == 429:
                    self.limiter.pause(delay)
                self.sleep(delay)
        if self.hook:
            self.hook("after", n, name)
        return to_plain(result)

    @staticmethod
    def _opts(key: str | None) -> dict[str, Any]:
        return {"idempotency_key": key} if key else {}

    def _create(self, name: str, service: Any, params: dict[str, Any], key: str) -> dict[str, Any]:
        """POST a new object through the SDK service `service` under the idempotency key `key`."""
        return self._call(name, lambda: service.create(params=params, options=self._opts(key)), key)

    def _search(self, name: str, service: Any, query: str) -> list[dict[str, Any]]:
        """The first page of a search (https://docs.stripe.com/search#search-query-language)."""
        return list(self._call(name, lambda: service.search(params={"query": query}))["data"])

    # -- customers
    def search_customers(self, query: str) -> list[dict[str, Any]]:
        return self._search("search_customers", self.client.v1.customers, query)

    def create_customer(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self._create("create_customer", self.client.v1.customers, params, key)

    # -- invoices
    def search_invoices(self, query: str) -> list[dict[str, Any]]:
        return self._search("search_invoices", self.client.v1.invoices, query)

    def create_invoice(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self._create("create_invoice", self.client.v1.invoices, params, key)

    def retrieve_invoice(self, invoice_id: str) -> dict[str, Any]:
        return self._call("retrieve_invoice", lambda: self.client.v1.invoices.retrieve(invoice_id))

    def finalize_invoice(self, invoice_id: str, key: str, auto_advance: bool = False) -> dict[str, Any]:
        return self._call(
            "finalize_invoice",
            lambda: self.client.v1.invoices.finalize_invoice(
                invoice_id, params={"auto_advance": auto_advance}, options=self._opts(key)
            ),
            key,
        )

    def pay_invoice(self, invoice_id: str, params: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        return self._call(
            "pay_invoice",
            lambda: self.client.v1.invoices.pay(invoice_id, params=params, options=self._opts(key)),
            key,
        )

    def send_invoice(self, invoice_id: str, key: str | None = None) -> dict[str, Any]:
        return self._call(
            "send_invoice",
            lambda: self.client.v1.invoices.send_invoice(invoice_id, options=self._opts(key)),
            key,
        )

    def list_invoices(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._list_all("list_invoices", lambda p: self.client.v1.invoices.list(params=p), params)

    def list_invoice_lines(self, invoice_id: str) -> list[dict[str, Any]]:
        return self._list_all(
            "list_invoice_lines", lambda p: self.client.v1.invoices.line_items.list(invoice_id, params=p), {}
        )

    # -- customer balance (credits applied after tax; amounts carried from invoices below the minimum)
    def list_balance_transactions(self, customer_id: str) -> list[dict[str, Any]]:
        return self._list_all(
            "list_balance_transactions",
            lambda p: self.client.v1.customers.balance_transactions.list(customer_id, params=p),
            {},
        )

    def create_balance_transaction(
        self, customer_id: str, params: dict[str, Any], key: str
    ) -> dict[str, Any]:
        return self._call(
            "create_balance_transaction",
            lambda: self.client.v1.customers.balance_transactions.create(
                customer_id, params=params, options=self._opts(key)
            ),
            key,
        )

    # -- tax rates
    def list_tax_rates(self) -> list[dict[str, Any]]:
        return self._list_all("list_tax_rates", lambda p: self.client.v1.tax_rates.list(params=p), {})

    def create_tax_rate(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self._create("create_tax_rate", self.client.v1.tax_rates, params, key)

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
        return self._create("create_invoice_item", self.client.v1.invoice_items, params, key)

    # -- credit notes
    def list_credit_notes(self, invoice_id: str) -> list[dict[str, Any]]:
        return self._list_all(
            "list_credit_notes", lambda p: self.client.v1.credit_notes.list(params=p), {"invoice": invoice_id}
        )

    def create_credit_note(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self._create("create_credit_note", self.client.v1.credit_notes, params, key)

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
        return {
            "id": "in_" + self._plan("POST", "/v1/invoices", params, key),
            "status": "draft",
            "total": 0,
            "lines": {"data": []},
        }

    def create_invoice_item(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return {
            "id": "ii_" + self._plan("POST", "/v1/invoiceitems", params, key),
            "amount": params.get("amount"),
        }

    def list_invoice_items(self, invoice_id: str) -> list[dict[str, Any]]:
        return []

    def retrieve_invoice(self, invoice_id: str) -> dict[str, Any]:
        raise NotImplementedError("dry run never retrieves")

    def finalize_invoice(self, invoice_id: str, key: str, auto_advance: bool = False) -> dict[str, Any]:
        self._plan("POST", f"/v1/invoices/{invoice_id}/finalize", {"auto_advance": auto_advance}, key)
        return {"id": invoice_id, "status": "open", "number": None}

    def list_invoices(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def list_tax_rates(self) -> list[dict[str, Any]]:
        return []

    def create_tax_rate(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return {"id": "txr_" + self._plan("POST", "/v1/tax_rates", params, key)}

    def list_balance_transactions(self, customer_id: str) -> list[dict[str, Any]]:
        return []

    def create_balance_transaction(
        self, customer_id: str, params: dict[str, Any], key: str
    ) -> dict[str, Any]:
        return {
            "id": "cbtxn_"
            + self._plan("POST", f"/v1/customers/{customer_id}/balance_transactions", params, key)
        }

    def list_credit_notes(self, invoice_id: str) -> list[dict[str, Any]]:
        return []

    def create_credit_note(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return {"id": "cn_" + self._plan("POST", "/v1/credit_notes", params, key)}
