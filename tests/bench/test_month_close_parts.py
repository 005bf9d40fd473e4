"""The month-close benchmark's parts: a reused raw layer is checked against the run's scale, the Stripe
sample keeps the first invoices in the exporter's order, the marketplace identities validate."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from bench import bench_month_close as bench
from bench.bench_stripe_export import seed
from bench.month_close_parts import (
    MANIFEST,
    RawLayerError,
    ResultsFile,
    check_raw,
    link_usage,
    marketplace_customers,
    stripe_sample,
    write_manifest,
    write_marketplace_identities,
)
from exports.marketplace.catalog import load_identities, load_offerings
from exports.marketplace.run import EXAMPLES
from exports.stripe import exporter

EVENTS, CUSTOMERS = 3_000, 10  # 100 events a day over 30 days


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("raw")
    rows = bench.write_usage(folder, EVENTS, CUSTOMERS)
    write_manifest(folder, events=EVENTS, customers=CUSTOMERS, rows=rows)
    return folder


def check(raw: Path, events: int = EVENTS, customers: int = CUSTOMERS) -> dict:
    return check_raw(raw, events, customers, bench.MONTH_START, bench.DAYS, events / 100_000_000)


def test_a_raw_layer_of_the_same_scale_is_accepted_and_counted(raw: Path) -> None:
    info = check(raw)
    # 3,000 new events (100 a day) + 1 % re-sent on each of days 2..30: 100 // 100 = 1 a day, 29 rows
    assert info["rows"] == 3_000 + 29
    assert info["days"] == 30
    # one file a day + one re-sent file on days 2..30 = 30 + 29
    assert info["files"] == 59
    assert info["highest_customer"] <= CUSTOMERS - 1


def test_a_raw_layer_of_another_scale_is_refused_with_the_scale_to_use(raw: Path) -> None:
    with pytest.raises(
        RawLayerError, match=r"generated for 3,000 events and 10 customers .* BENCH_SCALE=3e-05"
    ):
        check(raw, events=6_000, customers=20)


def test_without_a_manifest_the_customer_ids_give_the_scale_away(raw: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    link_usage(raw, copy, print)
    assert check(copy)["rows"] == 3_029
    # the events name cus_0..cus_9: a run for 5 customers would rate usage of customers it does not know
    with pytest.raises(RawLayerError, match=r"customers up to cus_9.*\(cus_0\.\.cus_4\)"):
        check(copy, customers=5)


def test_a_partial_raw_layer_is_refused(raw: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    link_usage(raw, copy, print)
    (copy / MANIFEST).write_text((raw / MANIFEST).read_text())
    next((copy / "usage_events" / "arrival_date=2026-04-30").glob("bench-retry.parquet")).unlink()
    # the re-sent file of April 30 held 1 row: 3,029 - 1 = 3,028
    with pytest.raises(RawLayerError, match=r"says 3,029 rows were written but the files hold 3,028"):
        check(copy)


def test_a_missing_arrival_day_is_named(raw: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    link_usage(raw, copy, print)
    for f in (copy / "usage_events" / "arrival_date=2026-04-07").iterdir():
        f.unlink()
    (copy / "usage_events" / "arrival_date=2026-04-07").rmdir()
    with pytest.raises(RawLayerError, match=r"missing \['arrival_date=2026-04-07'\]"):
        check(copy)


def test_linked_raw_layer_survives_deleting_the_work_folder(raw: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    assert link_usage(raw, work / "raw", print) == "hard links"
    bench.shutil.rmtree(work)
    assert check(raw)["rows"] == 3_029


def test_results_are_on_disk_as_soon_as_appended(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "r.jsonl")
    results.append({"step": "a", "seconds": 1.5})
    assert [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()] == [
        {"step": "a", "seconds": 1.5}
    ]


def test_a_failing_step_is_recorded_and_the_steps_needing_it_are_skipped(tmp_path: Path) -> None:
    bench.RESULTS.clear()
    bench.FAILED.clear()

    def broken() -> None:
        raise ValueError("no such table billing.fct_invoices")

    bench.step("close", broken, tmp_path)
    assert bench.step("documents", lambda: 1, tmp_path, needs=("close",)) is None
    assert bench.step("hand", lambda: 7, tmp_path) == 7
    assert [(r["step"], r["status"]) for r in bench.RESULTS] == [
        ("close", "failed"),
        ("documents", "skipped"),
        ("hand", "ok"),
    ]
    assert bench.RESULTS[0]["error"] == "ValueError: no such table billing.fct_invoices"
    assert bench.RESULTS[1]["error"] == "needs close, which did not complete"
    bench.RESULTS.clear()
    bench.FAILED.clear()


def test_stripe_sample_keeps_the_first_invoices_in_the_exporters_order(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    seed(db, 12)  # inv_0 .. inv_11, one issue date: ordered by invoice id as text
    seen: dict[str, int] = {}
    with duckdb.connect(str(db)) as con, stripe_sample(4, seen):
        invoices, _, _ = exporter.load_invoices(con)
    # text order: inv_0, inv_1, inv_10, inv_11, inv_2, ...
    assert [i.usagebill_id for i in invoices] == ["inv_0", "inv_1", "inv_10", "inv_11"]
    assert seen == {"total": 12, "sample": 4}
    with duckdb.connect(str(db)) as con:  # the exporter is itself again
        assert len(exporter.load_invoices(con)[0]) == 12


def test_marketplace_identities_of_the_bench_customers_validate(tmp_path: Path) -> None:
    # 20 customers on 6 plans: payg customers are 0, 6, 12, 18; the first 3 of them
    numbers = marketplace_customers(20, 3, 6)
    assert numbers == [0, 6, 12]
    path = tmp_path / "marketplace_customers.yaml"
    assert write_marketplace_identities(path, numbers, "2026-03-01T00:00:00Z") == {
        "aws": 1,
        "azure": 1,
        "google": 1,
    }
    identities = load_identities(load_offerings(EXAMPLES / "marketplace_offerings.yaml"), path)
    assert [(i.customer_id, i.marketplace) for i in identities] == [
        ("cus_0", "aws"),
        ("cus_6", "azure"),
        ("cus_12", "google"),
    ]


def test_the_summary_judges_each_goal_with_the_figures_of_the_run() -> None:
    bench.RESULTS.clear()
    base = {"status": "ok", "load_average": 1.0, "disk_gib": 1.0}
    bench.RESULTS.extend(
        [
            base | {"step": bench.STEP_USAGE, "seconds": 300.0, "cpu_seconds": 500.0, "peak_rss_gib": 5.5},
            base | {"step": bench.STEP_CLOSE, "seconds": 350.0, "cpu_seconds": 600.0, "peak_rss_gib": 6.2},
            base | {"step": bench.STEP_HAND, "seconds": 250.0, "cpu_seconds": 400.0, "peak_rss_gib": 4.0},
            base
            | {
                "step": bench.STEP_DOCUMENTS,
                "seconds": 120.0,
                "cpu_seconds": 200.0,
                "peak_rss_gib": 0.5,
                "documents": 20_000,
                "workers": 2,
                "invoices_per_customer": 2.0,
            },
            base
            | {
                "step": bench.STEP_STRIPE,
                "seconds": 500.0,
                "cpu_seconds": 60.0,
                "peak_rss_gib": 0.4,
                "sample": True,
                "invoices_exported": 1_000,
                "invoices_exportable": 200_000,
                "api_calls": 8_000,
                "rate_limited": 0,
                "calls_per_second": 16.0,
                "calls_per_second_first_to_last_call": 21.0,
                "configured_rate": 25.0,
                "ratio_to_configured": 0.64,
                "ratio_to_configured_first_to_last_call": 0.84,
            },
        ]
    )
    text = bench.summary(1.0, 100_000_000, 100_000)
    bench.RESULTS.clear()
    # 300 + 350 = 650 s > 600; CPU 500 + 600 = 1,100 s
    assert "| 650 s wall (1100 s CPU) | NOT met |" in text
    # the larger of 5.5 and 6.2 GiB
    assert "| 6.20 GiB | NOT met |" in text
    # 300 / 250 = 1.20 wall, 500 / 400 = 1.25 CPU
    assert "| 1.20 wall, 1.25 CPU | met |" in text
    # 120 s / 20,000 x 100,000 = 600 s = 10.0 min; CPU 200 / 20,000 x 100,000 / 2 = 500 s = 8.3 min
    assert "100,000 at this rate: 10.0 min (from CPU per document on 2 processes: 8.3 min)" in text
    # a sample: judged on its calls from the first to the last: 21 / 25 = 0.84
    assert "a SAMPLE of 1,000 of 200,000 invoices: 21.0 calls/s" in text
    assert "of 25/s = 0.84" in text and text.count("| met |") == 3
