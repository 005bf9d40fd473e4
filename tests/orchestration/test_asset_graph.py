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

    schedule = defs.resolve_schedule_def("daily_billing_schedule")
    assert schedule.cron_schedule.split()[2:] == ["*", "*", "*"], "the billing run is daily"


# --- the lineage reads like the flow ------------------------------------------------------------

# The order of the steps (product brief, "The flow"): an asset never depends on a later step.
FLOW_ORDER = [
    "catalog",
    "collect",
    "journal",
    "aggregate",
    "rate",
    "invoice",
    "pay",
    "marketplaces",
    "analytics",
]

# Where a step legitimately reads a later one: the marketplace reporters read the rated hourly
# amounts (rate), analytics reads everything, and payments/marketplaces consolidate revenue.
# Nothing may read "backwards" into catalog/collect/journal from a later step's output.


def test_every_asset_is_in_a_flow_group(asset_graph):
    from dagster_project.flow import FLOW_GROUPS

    misplaced = sorted(
        f"{key.to_user_string()} ({asset_graph.get(key).group_name})"
        for key in asset_graph.get_all_asset_keys()
        if asset_graph.get(key).group_name not in FLOW_GROUPS
    )
    assert not misplaced, f"assets outside the flow's groups: {misplaced}"
    assert all(description.strip() for description in FLOW_GROUPS.values())


def test_early_steps_never_depend_on_later_steps(asset_graph):
    """Catalog, collect and journal come first: none of their assets reads a rated or invoiced asset."""
    early = {"catalog": 0, "collect": 1, "journal": 2, "aggregate": 3}
    backwards = []
    for key in asset_graph.get_all_asset_keys():
        group = asset_graph.get(key).group_name
        if group not in early:
            continue
        for parent in asset_graph.get(key).parent_keys:
            parent_group = asset_graph.get(parent).group_name
            if FLOW_ORDER.index(parent_group) > early[group]:
                backwards.append(
                    f"{key.to_user_string()} ({group}) <- {parent.to_user_string()} ({parent_group})"
                )
    assert not backwards, backwards


def test_singular_reconciliation_tests_are_asset_checks(asset_graph):
    """Every singular test in dbt_project/tests shows up as an asset check, except the few that read
    models of two Dagster steps (partitioned usage + unpartitioned billing): those run with dbt's
    'buildable' selection in the later step and are reported in its dbt output."""
    from pathlib import Path

    from usagebill.paths import dbt_project_dir

    cross_step = {
        "assert_rated_usage_equals_journal",
        "assert_rating_usage_has_a_subscription",
        "assert_usage_rollups_match_journal",
    }
    singular = {path.stem for path in (Path(dbt_project_dir()) / "tests").rglob("assert_*.sql")}
    checks = {key.name for key in asset_graph.asset_check_keys}
    missing = sorted(singular - checks - cross_step)
    assert not missing, (
        f"singular tests not attached to an asset: {missing}; give each one "
        "+meta: {dagster: {ref: {name: <model it guards>}}} under data_tests: in dbt_project.yml"
    )


def test_failed_run_is_reported(tmp_path, monkeypatch):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from dagster_project.defs.jobs.alerts import WEBHOOK_ENV, deliver_alert, failure_alert

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv(WEBHOOK_ENV, f"http://127.0.0.1:{server.server_port}/hook")
        alert = failure_alert(
            "run-1", "daily_billing", "dbt build failed: 2 of 80 tests", {"dagster/partition": "2026-10-31"}
        )
        path = deliver_alert(alert, tmp_path)
    finally:
        server.shutdown()
    written = [json.loads(line) for line in path.read_text().splitlines()]
    assert written == [alert] and received == [alert]
    assert alert["job_name"] == "daily_billing" and alert["partition_range"] == {"partition": "2026-10-31"}
    assert "run-1" in alert["next_step"]


def test_failure_sensor_and_schedules_are_defined():
    from dagster_project.definitions import defs

    assert defs.resolve_sensor_def("report_failed_runs") is not None
    assert defs.resolve_schedule_def("marketplace_hourly_schedule").cron_schedule == "10 * * * *"
