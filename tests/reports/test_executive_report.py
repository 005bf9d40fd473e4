"""The executive report: every figure ties out to its mart, and the HTML renders in a real browser.

The marts are written by hand below (a quarter of a small company, reporting currency USD), so each
expected figure is a number a person can check: June closes at 1,000.00 MRR; July adds a new
customer (+200.00), August an expansion (+50.00), September a churn (-100.00): Q3 closes at
1,150.00 = 1,000.00 + 200.00 + 50.00 - 100.00, ARR 13,800.00 = 12 x 1,150.00. October is the
current, incomplete month (is_provisional) and must not appear as a month of MRR.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from usagebill.paths import PROJECT_ROOT
from usagebill.reports.executive import build_report, parse_period

ARTIFACTS = PROJECT_ROOT / ".artifacts"

# month, mrr, new, expansion, contraction, churn, reactivation, active customers, is_provisional
GROWTH = [
    ("2026-06-01", "1000.00", "0", "0", "0", "0", "0", 2, False),
    ("2026-07-01", "1200.00", "200.00", "0", "0", "0", "0", 3, False),
    ("2026-08-01", "1250.00", "0", "50.00", "0", "0", "0", 3, False),
    ("2026-09-01", "1150.00", "0", "0", "0", "-100.00", "0", 2, False),
    ("2026-10-01", "300.00", "0", "0", "0", "-850.00", "0", 1, True),
]


def write_marts(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema analytics; create schema marketplace")
    con.execute(
        """create table analytics.fct_mrr_growth (month_start date, reporting_currency varchar, active_customers integer,
        mrr_reporting decimal(38,12), previous_mrr_reporting decimal(38,12), arr_reporting decimal(38,12),
        new_mrr_reporting decimal(38,12), expansion_mrr_reporting decimal(38,12), contraction_mrr_reporting decimal(38,12),
        churn_mrr_reporting decimal(38,12), reactivation_mrr_reporting decimal(38,12), mrr_change_reporting decimal(38,12),
        mom_growth decimal(38,12), yoy_growth decimal(38,12), is_provisional boolean)"""
    )
    previous = None
    for month, mrr, new, exp, con_, churn, react, active, provisional in GROWTH:
        mrr_d = Decimal(mrr)
        change = Decimal(new) + Decimal(exp) + Decimal(con_) + Decimal(churn) + Decimal(react)
        mom = None if previous is None else (mrr_d - previous) / previous
        con.execute(
            "insert into analytics.fct_mrr_growth values (?, 'USD', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, ?)",
            [
                month,
                active,
                mrr_d,
                previous,
                mrr_d * 12,
                new,
                exp,
                con_,
                churn,
                react,
                change,
                mom,
                provisional,
            ],
        )
        previous = mrr_d
    con.execute(
        """create table analytics.fct_mrr as select * from (values
        ('cus_a', date '2026-09-01', 'USD', 900.00::decimal(38,12), false),
        ('cus_b', date '2026-09-01', 'USD', 250.00::decimal(38,12), false),
        ('cus_a', date '2026-10-01', 'USD', 300.00::decimal(38,12), true))
        t(customer_id, month_start, reporting_currency, mrr_reporting, is_provisional)"""
    )
    con.execute(
        """create table analytics.fct_cohort_retention as select * from (values
        (date '2026-06-01', date '2026-06-01', 0, 2, 2, 1.0::decimal(38,12), 1.0::decimal(38,12)),
        (date '2026-06-01', date '2026-07-01', 1, 2, 2, 1.0::decimal(38,12), 1.0::decimal(38,12)),
        (date '2026-06-01', date '2026-09-01', 3, 2, 1, 0.5::decimal(38,12), 0.9::decimal(38,12)),
        (date '2026-07-01', date '2026-07-01', 0, 1, 1, 1.0::decimal(38,12), 1.0::decimal(38,12)))
        t(cohort_month, month_start, months_since_signup, cohort_customers, active_customers, logo_retention, net_revenue_retention)"""
    )
    con.execute(
        """create table analytics.fct_unit_cost as select * from (values
        (date '2026-08-01', 'gpu_ms', null::varchar, 'USD', 0.0000087::decimal(38,12), 0.0087::decimal(38,12), 1000000::decimal(38,12), 8.70::decimal(38,12)),
        (date '2026-09-01', 'gpu_ms', null::varchar, 'USD', 0.0000080::decimal(38,12), 0.0080::decimal(38,12), 1000000::decimal(38,12), 8.00::decimal(38,12)))
        t(month_start, meter_id, dimension_value, currency, cost_per_unit, cost_per_1k_units, usage_quantity, total_cost)"""
    )
    con.execute(
        """create table analytics.fct_customer_margin as select * from (values
        ('cus_a', date '2026-09-01', 'gpu_payg', 'USD', 100.00::decimal(38,12), 87.00::decimal(38,12), 13.00::decimal(38,12)))
        t(customer_id, month_start, sku_id, reporting_currency, revenue_reporting, cost_reporting, contribution_margin_reporting)"""
    )
    # projection band: September actual (low = high = actual); October projected 1,150 x 1.04 = 1,196.00
    # central, 1,150 x 0.98 = 1,127.00 low, 1,150 x 1.10 = 1,265.00 high
    con.execute(
        """create table analytics.fct_revenue_projection as select * from (values
        (date '2026-09-01', false, 1150.00::decimal(38,12), 1150.00::decimal(38,12), 1150.00::decimal(38,12)),
        (date '2026-10-01', true, 1196.00::decimal(38,12), 1127.00::decimal(38,12), 1265.00::decimal(38,12)))
        t(month_start, is_projection, mrr_reporting, mrr_low_reporting, mrr_high_reporting)"""
    )
    # pricing lab margins: plan payg billed 15.00, candidate 25.00 on a 9.70 cost -> gross 5.30 -> 15.30
    con.execute("create schema pricing_lab")
    con.execute(
        """create table pricing_lab.fct_backtest_margin_by_plan as select * from (values
        ('gpu_x2', 'default', 'payg', date '2026-09-01', 'USD', 1, 15.00::decimal(38,12), 25.00::decimal(38,12),
         5.30::decimal(38,12), 15.30::decimal(38,12), 10.00::decimal(38,12)))
        t(candidate, tenant_id, plan_id, month_start, reporting_currency, customers, billed_revenue_reporting,
          candidate_revenue_reporting, billed_gross_margin_reporting, candidate_gross_margin_reporting,
          margin_change_reporting)"""
    )
    con.execute(
        """create table marketplace.fct_revenue_by_channel as select * from (values
        (date '2026-09-01', 'direct', 'USD', 900.00::decimal(38,12), 0::decimal(38,12), 900.00::decimal(38,12)),
        (date '2026-09-01', 'aws', 'USD', 250.00::decimal(38,12), 7.50::decimal(38,12), 242.50::decimal(38,12)))
        t(revenue_month, channel, currency, billed_amount, listing_fee, net_revenue)"""
    )
    con.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("exec")
    warehouse = root / "w.duckdb"
    write_marts(warehouse)
    return build_report(warehouse, parse_period("2026-Q3"), root / "out")


def embedded_data(html_text: str) -> dict:
    match = re.search(r"<script type='application/json' id='report-data'>(.*?)</script>", html_text, re.S)
    import html as html_lib

    return json.loads(html_lib.unescape(match.group(1)))


def test_period_parsing():
    q3 = parse_period("2026-Q3")
    assert (q3.start, q3.end, q3.months) == (
        date(2026, 7, 1),
        date(2026, 10, 1),
        [date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 1)],
    )
    assert parse_period("2026-09").end == date(2026, 10, 1)
    with pytest.raises(ValueError, match="2026-Q3"):
        parse_period("2026-Q5")


def test_figures_tie_out_to_the_marts(report):
    text = report["html"].read_text()
    data = embedded_data(text)
    # Waterfall: opening June 1,000.00 + new 200.00 + expansion 50.00 - churn 100.00 = closing 1,150.00.
    waterfall = {k: Decimal(v) for k, v in data["waterfall"].items()}
    assert waterfall["opening_mrr"] == Decimal("1000.00")
    assert (waterfall["new_mrr"], waterfall["expansion_mrr"], waterfall["churn_mrr"]) == (
        Decimal("200.00"),
        Decimal("50.00"),
        Decimal("-100.00"),
    )
    assert waterfall["closing_mrr"] == Decimal("1150.00") == waterfall["opening_mrr"] + 200 + 50 - 100
    assert Decimal(data["kpis"]["arr"]) == Decimal("13800.00")
    # The provisional October is not a month of MRR: the trend stops at September.
    assert [row["month_start"] for row in data["mrr_trend"]][-1] == "2026-09-01"
    assert "1,150.00 USD" in text and "13,800.00 USD" in text
    # MoM growth of September: (1,150 - 1,250) / 1,250 = -8.0 %.
    assert "-8.0 %" in text
    # Top customers at the last complete month, largest first.
    assert [r["customer_id"] for r in data["top_customers"]] == ["cus_a", "cus_b"]
    # Net revenue by channel: AWS 250.00 billed - 7.50 fee (3 %) = 242.50.
    aws = [r for r in data["revenue_by_channel"] if r["channel"] == "aws"][0]
    assert Decimal(aws["net_revenue"]) == Decimal("242.50")
    # Margin: revenue 100.00 - cost 87.00 = 13.00 (13.0 % margin on revenue, 14.94 % markup on cost).
    assert Decimal(data["margin_by_plan"][0]["contribution_margin"]) == Decimal("13.00")
    # Projection band of October: 1,127.00 .. 1,265.00 around 1,196.00, drawn as the uncertainty band.
    october = [r for r in data["projection"] if r["is_projection"]][0]
    assert [Decimal(october[k]) for k in ("mrr_low_reporting", "mrr_reporting", "mrr_high_reporting")] == [
        Decimal("1127.00"),
        Decimal("1196.00"),
        Decimal("1265.00"),
    ]
    assert "uncertainty band" in text
    # Pricing lab margins by plan: gross margin 5.30 billed -> 15.30 under gpu_x2 (+10.00), from the mart.
    (margins,) = data["pricing_lab_margins"]
    assert (margins["candidate"], margins["plan_id"]) == ("gpu_x2", "payg")
    assert [
        Decimal(margins[k]) for k in ("billed_gross_margin", "candidate_gross_margin", "margin_change")
    ] == [
        Decimal("5.30"),
        Decimal("15.30"),
        Decimal("10.00"),
    ]
    assert "data-table='pricing_lab_margins'" in text and data["pricing_lab_parity"] == []


def test_every_chart_is_in_the_html_and_the_pdf_has_a_page_each(report):
    text = report["html"].read_text()
    charts = re.findall(r"<figure data-chart='([a-z_]+)'>", text)
    assert charts == [
        "mrr_trend",
        "waterfall",
        "growth",
        "logo_retention",
        "net_revenue_retention",
        "channels",
        "margins",
        "unit_cost",
        "projection",
    ]
    # Self-contained: nothing is fetched (XML namespace URIs inside the SVGs are names, not requests).
    assert not re.search(r"""(src|href)\s*=\s*["']https?:""", text), "no external resource"
    assert "<link" not in text and "@import" not in text and "<script src" not in text
    assert report["pdf"].read_bytes().startswith(b"%PDF-")
    if shutil.which("pdfinfo"):
        import subprocess

        info = subprocess.run(["pdfinfo", str(report["pdf"])], capture_output=True, text=True).stdout
        assert re.search(r"Pages:\s+10", info), info  # the cover page and one page per chart


def test_the_html_renders_in_headless_chromium(report):
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.skip("chromium missing: scripts/ensure-system-deps.sh installs it (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(report["html"].as_uri())
            sizes = page.eval_on_selector_all(
                "figure[data-chart] svg",
                "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })",
            )
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "executive_report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert len(sizes) == 9 and all(w > 200 and h > 100 for w, h in sizes), sizes
