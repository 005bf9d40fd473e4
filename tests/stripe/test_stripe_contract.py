"""The Stripe contract the exporter relies on, through the real SDK: against the fake, and against Stripe test
mode with STRIPE_LIVE_TESTS=1 (which keeps the fake honest)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest
import stripe


def customer(client, suffix=""):
    return client.v1.customers.create(
        params={"name": "Contract Co", "metadata": {"usagebill_customer_id": f"contract{suffix}"}}
    )


def draft(client, cus, currency="usd", **extra):
    params = {
        "customer": cus.id,
        "currency": currency,
        "auto_advance": False,
        "pending_invoice_items_behavior": "exclude",
        "collection_method": "send_invoice",
        "days_until_due": 30,
        **extra,
    }
    return client.v1.invoices.create(params=params)


def add_item(client, cus, inv, amount=None, **params):
    """An invoice item of `amount` cents (USD) on the draft `inv` (inv None: a pending item)."""
    invoice = {"invoice": inv.id} if inv is not None else {}
    amounts = {"amount": amount} if amount is not None else {}
    return client.v1.invoice_items.create(
        params={"customer": cus.id, **invoice, "currency": "usd", **amounts, **params}
    )


def test_idempotent_replay_and_idempotency_error(target):
    client = target.client()
    key = f"usagebill-test-{uuid.uuid4()}"
    params = {"name": "Replay Co", "metadata": {"usagebill_customer_id": "replay"}}
    first = client.v1.customers.create(params=params, options={"idempotency_key": key})
    again = client.v1.customers.create(params=params, options={"idempotency_key": key})
    assert again.id == first.id  # replayed, not created twice
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={"name": "Other Co"}, options={"idempotency_key": key})
    if target.is_fake:  # the replay header, over raw HTTP
        body = b"name=Replay+Co&metadata[usagebill_customer_id]=replay"
        req = urllib.request.Request(
            f"{target.base_url}/v1/customers",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {target.api_key}",
                "Idempotency-Key": key,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        with urllib.request.urlopen(req) as resp:
            assert resp.headers["Idempotent-Replayed"] == "true"
            assert json.loads(resp.read())["id"] == first.id
        assert len(target.control("state", method="GET")["objects"]["customer"]) == 1


def test_finalize_pay_void_and_uncollectible(target):
    client = target.client()
    cus = customer(client, target.suffix)
    inv = draft(client, cus)
    add_item(client, cus, inv, 50000, description="GPU")
    add_item(client, cus, inv, 1234, description="Storage")
    # a pending item of the same customer is NOT pulled in (pending_invoice_items_behavior=exclude)
    pending = add_item(client, cus, None, 999)
    final = client.v1.invoices.finalize_invoice(inv.id, params={"auto_advance": False})
    assert (final.status, final.total, final.amount_due) == ("open", 51234, 51234)  # 500.00 + 12.34
    assert final.number
    assert client.v1.invoice_items.retrieve(pending.id).invoice is None
    with pytest.raises(stripe.InvalidRequestError):  # a finalized invoice takes no more items
        add_item(client, cus, inv, 1)
    paid = client.v1.invoices.pay(inv.id, params={"paid_out_of_band": True})
    assert (paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 51234, 0)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.void_invoice(inv.id)  # a paid invoice cannot be voided
    inv2 = draft(client, cus)
    add_item(client, cus, inv2, 700)
    client.v1.invoices.finalize_invoice(inv2.id)
    assert client.v1.invoices.void_invoice(inv2.id).status == "void"
    inv3 = draft(client, cus)
    add_item(client, cus, inv3, 800)
    client.v1.invoices.finalize_invoice(inv3.id)
    assert client.v1.invoices.mark_uncollectible(inv3.id).status == "uncollectible"


def test_declined_payment_fails_and_counts_the_attempt(target):
    client = target.client()
    cus = customer(client, target.suffix)
    inv = draft(client, cus, collection_method="charge_automatically", days_until_due=None)
    add_item(client, cus, inv, 5000)
    client.v1.invoices.finalize_invoice(inv.id)
    with pytest.raises(stripe.CardError) as err:
        # Stripe's documented test payment method that declines
        client.v1.invoices.pay(inv.id, params={"payment_method": "pm_card_chargeDeclined"})
    assert err.value.code == "card_declined"
    after = client.v1.invoices.retrieve(inv.id)
    assert (after.status, after.attempt_count, after.amount_remaining) == ("open", 1, 5000)
    types = [
        e.type
        for e in client.v1.events.list(params={"types": ["invoice.payment_failed"]}).data
        if e.data.object["id"] == inv.id
    ]
    assert types == ["invoice.payment_failed"]


def test_credit_notes_open_and_paid(target):
    client = target.client()
    cus = customer(client, target.suffix)
    inv = draft(client, cus)
    add_item(client, cus, inv, 51234)
    client.v1.invoices.finalize_invoice(inv.id)
    # open invoice: a credit note reduces amount_due: 51234 - 1234 = 50000
    cn = client.v1.credit_notes.create(params={"invoice": inv.id, "amount": 1234})
    assert cn.total == 1234
    assert client.v1.invoices.retrieve(inv.id).amount_due == 50000
    client.v1.invoices.pay(inv.id, params={"paid_out_of_band": True})
    # paid invoice: refund + credit + out_of_band must equal the credit note total
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.credit_notes.create(params={"invoice": inv.id, "amount": 1000, "credit_amount": 400})
    cn2 = client.v1.credit_notes.create(
        params={"invoice": inv.id, "amount": 1000, "credit_amount": 400, "out_of_band_amount": 600}
    )
    assert (cn2.total, cn2.credit_amount, cn2.out_of_band_amount) == (1000, 400, 600)
    assert client.v1.invoices.retrieve(inv.id).post_payment_credit_notes_amount == 1000


def test_unit_amount_decimal_and_limits(target):
    if not target.is_fake:
        pytest.skip("fake-only: the 250-item limit would create 250 objects in test mode")
    client = target.client()
    cus = customer(client)
    inv = draft(client, cus)
    # 2,457 ms x 0.00001 USD/ms in cents: 2457 x 0.001 = 2.457 cents -> 2 (rounded to the minor unit)
    item = add_item(client, cus, inv, unit_amount_decimal="0.001", quantity=2457)
    assert item.amount == 2
    with pytest.raises(stripe.InvalidRequestError, match="12 decimal"):
        add_item(client, cus, None, unit_amount_decimal="0.0000000000001", quantity=1)
    for _ in range(249):
        add_item(client, cus, inv, 1)
    with pytest.raises(stripe.InvalidRequestError, match="250"):
        add_item(client, cus, inv, 1)


def test_errors_auth_and_rate_limit(target):
    if not target.is_fake:
        pytest.skip("fake-only fault injection")
    bad = stripe.StripeClient("sk_live_nope", base_addresses={"api": target.base_url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError):
        bad.v1.customers.list()
    client = target.client()
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.invoices.create(params={"customer": "cus_missing"})
    assert err.value.code == "resource_missing" and err.value.param == "id"
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter"):
        client.v1.customers.create(params={"nickname": "x"})
    target.control("rate_limit", {"per_second": 2})
    with pytest.raises(stripe.RateLimitError):
        for _ in range(5):
            client.v1.customers.list()
    target.control("rate_limit", {"per_second": None})


def test_state_file_survives_restart(tmp_path):
    from exports.fakes.stripe_server import serve

    state = tmp_path / "stripe_state.json"
    server, url = serve(state_file=state)
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": url}, max_network_retries=0)
    cus = client.v1.customers.create(params={"name": "Persisted"})
    server.shutdown()
    server.server_close()
    server2, url2 = serve(state_file=state)
    client2 = stripe.StripeClient("sk_test_x", base_addresses={"api": url2}, max_network_retries=0)
    assert client2.v1.customers.retrieve(cus.id).name == "Persisted"
    server2.shutdown()
    server2.server_close()
