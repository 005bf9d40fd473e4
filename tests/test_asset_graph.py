"""The Dagster definitions load and wire the whole flow, from raw usage to the exports."""

from __future__ import annotations

import dagster as dg
import pytest


@pytest.fixture(scope="module")
def asset_graph():
    from dagster_project.definitions import defs

    return defs.resolve_asset_graph()


def ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    todo = [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def K(*parts: str) -> dg.AssetKey:  # noqa: N802 - reads like the key it builds
    return dg.AssetKey(list(parts))


# raw usage -> journal -> rollups -> billing lines -> invoices -> exports, each a step of the flow.
FLOW_CHAIN = [
    K("raw", "usage_events"),
    K("usage", "fct_usage_journal"),
    K("usage", "fct_usage_hourly"),
    K("billing", "fct_billing_lines"),
    K("billing", "fct_invoices"),
    K("exports", "stripe_invoices"),
]


@pytest.mark.parametrize("upstream,downstream", list(zip(FLOW_CHAIN, FLOW_CHAIN[1:], strict=False)))
def test_flow_step_is_wired(asset_graph, upstream, downstream):
    if downstream == K("billing", "fct_billing_lines") and upstream == K("usage", "fct_usage_hourly"):
        # Rating reads the journal (exact per-event pricing), not the hourly rollup; both come from it.
        upstream = K("usage", "fct_usage_journal")
    assert upstream in ancestors(asset_graph, downstream), (
        f"{downstream.to_user_string()} must depend on {upstream.to_user_string()}"
    )


def test_catalog_feeds_rating(asset_graph):
    assert K("raw", "catalog") in ancestors(asset_graph, K("billing", "fct_billing_lines"))


def test_marketplace_reporting_reads_hourly_usage(asset_graph):
    assert K("usage", "fct_usage_hourly") in ancestors(asset_graph, K("exports", "aws_marketplace_usage"))


@pytest.mark.parametrize(
    "mart,needs",
    [
        (K("analytics", "fct_mrr"), K("billing", "fct_invoice_lines")),
        (K("analytics", "fct_arr"), K("analytics", "fct_mrr")),
        (K("analytics", "fct_cohort_retention"), K("analytics", "fct_mrr")),
        (K("analytics", "fct_unit_cost"), K("raw", "cloud_costs")),
    ],
)
def test_analytics_marts_are_wired(asset_graph, mart, needs):
    assert needs in ancestors(asset_graph, mart)


def test_dbt_tests_are_asset_checks():
    from dagster_project.definitions import defs

    check_keys = {key for node in defs.resolve_asset_graph().asset_nodes for key in node.check_keys}
    journal_checks = [key for key in check_keys if key.asset_key == K("usage", "fct_usage_journal")]
    assert journal_checks, "dbt tests on the journal must be visible as Dagster asset checks"


def test_daily_billing_schedule_exists():
    from dagster_project.definitions import defs

    schedule = defs.get_schedule_def("daily_billing_schedule")
    assert schedule.cron_schedule.split()[2:] == ["*", "*", "*"], "the billing run is daily"
