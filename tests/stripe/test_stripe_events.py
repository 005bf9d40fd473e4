"""Payment events: the signed webhook endpoint and the /v1/events polling fallback, both idempotent by id."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import duckdb
import pytest

from exports.stripe.events import EventStore
from exports.stripe.polling import poll_events
from exports.stripe.webhooks import serve_webhooks, signature_header

SECRET = "whsec_test_usagebill"


def post(url: str, payload: bytes, header: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if header:
        headers["Stripe-Signature"] = header
    req = urllib.request.Request(url, data=payload, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def webhook(isolated_env):
    store = EventStore(isolated_env / "raw" / "stripe_events")
    server, url = serve_webhooks(SECRET, store)
    yield url, store
    server.shutdown()
    server.server_close()


def event(event_id: str = "evt_1", created: int = 1795000000) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "invoice.paid",
            "created": created,
            "livemode": False,
            "data": {"object": {"id": "in_1", "object": "invoice", "amount_paid": 51234}},
        }
    ).encode()


def test_webhook_good_signature_lands_once(webhook):
    url, store = webhook
    body = event()
    assert post(url, body, signature_header(body, SECRET)) == (200, {"received": True, "duplicate": False})
    # Stripe redelivers: same event id, new signature -> accepted, not landed twice
    assert post(url, body, signature_header(body, SECRET)) == (200, {"received": True, "duplicate": True})
    assert store.count() == 1
    rows = duckdb.sql(
        f"select event_id, event_type, created_at from read_parquet('{store.root}/**/*.parquet')"
    ).fetchall()
    # 1795000000 s = 20775 days x 86400 + 40000 s; day 20775 after 1970-01-01 is 2026-11-18, 40000 s = 11:06:40
    assert [(r[0], r[1], r[2].isoformat()) for r in rows] == [
        ("evt_1", "invoice.paid", "2026-11-18T11:06:40")
    ]


def test_webhook_rejects_tampered_wrong_secret_missing_and_old(webhook):
    url, store = webhook
    body = event()
    header = signature_header(body, SECRET)
    tampered = body.replace(b"51234", b"99999")
    assert post(url, tampered, header)[0] == 400
    assert post(url, body, signature_header(body, "whsec_other"))[0] == 400
    assert post(url, body, None)[0] == 400
    too_old = signature_header(body, SECRET, timestamp=int(time.time()) - 301)  # tolerance is 300 s
    status, answer = post(url, body, too_old)
    assert status == 400 and "timestamp" in answer["error"].lower()
    assert store.count() == 0


def test_fake_delivers_signed_webhooks_end_to_end(target, webhook):
    url, store = webhook
    target.control("webhook", {"url": url, "secret": SECRET})
    client = target.client()
    cus = client.v1.customers.create(params={"name": "Hook Co"})
    deadline = time.monotonic() + 10
    while (
        store.count() < 1 and time.monotonic() < deadline
    ):  # delivery is asynchronous; wait, not assert time
        time.sleep(0.05)
    landed = duckdb.sql(f"select object_id, source from read_parquet('{store.root}/**/*.parquet')").fetchall()
    assert landed == [(cus.id, "webhook")]
    target.control("webhook", {"url": None})


def test_polling_is_idempotent_and_pages(target, isolated_env):
    client = target.client()
    cus = client.v1.customers.create(params={"name": "Poll Co", "metadata": {"usagebill_customer_id": "c"}})
    inv = client.v1.invoices.create(params={"customer": cus.id, "currency": "usd", "auto_advance": False})
    client.v1.invoice_items.create(
        params={"customer": cus.id, "invoice": inv.id, "amount": 51234, "currency": "usd"}
    )
    client.v1.invoices.finalize_invoice(inv.id)  # invoice.finalized
    client.v1.invoices.pay(inv.id, params={"paid_out_of_band": True})  # invoice.paid
    store = EventStore(isolated_env / "raw" / "stripe_events")
    api = target.api()
    first = poll_events(api, store, page_size=1)  # one event per page: exercises starting_after
    # payment event types only: invoice.finalized + invoice.paid (out of band: no payment_succeeded)
    assert (first.fetched, first.new, first.duplicate) == (2, 2, 0)
    assert first.pages == 2
    second = poll_events(api, store)
    assert (second.new, second.duplicate) == (0, 2)
    assert store.count() == 2
