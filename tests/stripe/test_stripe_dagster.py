"""The Dagster assets: dry run when no Stripe is configured, a real export against the fake otherwise."""

from __future__ import annotations

import dagster as dg
import pytest

from dagster_project.defs.stripe import STRIPE_INVOICES, StripeResource, defs, stripe_events, stripe_invoices

pytestmark = pytest.mark.slow


def test_definitions_wire_the_dbt_dependencies():
    assert defs.resources and "stripe_api" in defs.resources
    deps = {d.asset_key for d in stripe_invoices.specs_by_key[STRIPE_INVOICES].deps}
    assert deps == {dg.AssetKey(["billing", "fct_invoices"]), dg.AssetKey(["billing", "fct_credit_notes"])}
    assert {d.asset_key for d in stripe_events.specs_by_key[dg.AssetKey(["raw", "stripe_events"])].deps} == {
        STRIPE_INVOICES
    }


def test_dry_run_says_what_it_does(isolated_env, seed, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    seed(isolated_env / "usagebill.duckdb")
    result = dg.materialize([stripe_invoices, stripe_events], resources={"stripe_api": StripeResource()})
    assert result.success
    meta = {
        e.event_specific_data.materialization.asset_key: e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    export = meta[STRIPE_INVOICES]
    assert export["mode"].value == "dry run (nothing sent)" and export["sent"].value == 3
    assert export["planned_calls_file"].value.endswith(".jsonl")
    assert meta[dg.AssetKey(["raw", "stripe_events"])]["skipped"].value == "dry run: STRIPE_API_KEY unset"


def test_export_and_poll_against_the_fake(isolated_env, seed, target, tmp_path, monkeypatch):
    if not target.is_fake:
        pytest.skip("covered by the exporter tests in test mode")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    seed(isolated_env / "usagebill.duckdb")
    resource = StripeResource(api_key=target.api_key, api_base=target.base_url)
    result = dg.materialize([stripe_invoices, stripe_events], resources={"stripe_api": resource})
    assert result.success
    meta = {
        e.event_specific_data.materialization.asset_key: e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert meta[STRIPE_INVOICES]["sent"].value == 3 and meta[STRIPE_INVOICES]["failed"].value == 0
    # 3 invoices finalized -> 3 invoice.finalized events (the payment event types the poller lands)
    assert meta[dg.AssetKey(["raw", "stripe_events"])]["new"].value == 3
