"""The executive report: one self-contained HTML file (charts as inline SVG, no script, no CDN)
plus a PDF of the same figures, for a quarter (``2026-Q3``) or a month (``2026-09``).

Every number in the report is read from a mart of the warehouse (analytics.*, marketplace.*,
pricing_lab.*); the report computes nothing but layout. The figures are also embedded in the HTML
as JSON (``<script type="application/json" id="report-data">``) so that a test, or an auditor, can
tie each one back to its mart.

Charts are drawn with matplotlib (SVG in the HTML, vector pages in the PDF): they render offline,
print faithfully, and need no browser to be produced.

    usagebill report --period 2026-Q3 [--out reports/executive] [--warehouse FILE]
"""

from __future__ import annotations

import argparse
import html
import io
import json
import re
import sys
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from usagebill.paths import reports_dir, warehouse_path

PERIOD_RE = re.compile(r"^(?P<year>\d{4})-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2]))$")
TREND_MONTHS = 12
TOP_CUSTOMERS = 10


@dataclass(frozen=True)
class Period:
    """A reporting period: a quarter or a month, as the half-open range of month starts [start, end)."""

    label: str
    start: date
    end: date

    @property
    def months(self) -> list[date]:
        out, month = [], self.start
        while month < self.end:
            out.append(month)
            month = add_months(month, 1)
        return out


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def parse_period(text: str) -> Period:
    match = PERIOD_RE.match(text.strip())
    if not match:
        raise ValueError(f"period {text!r}: expected a quarter like 2026-Q3 or a month like 2026-09")
    year = int(match["year"])
    if match["quarter"]:
        start = date(year, 3 * (int(match["quarter"]) - 1) + 1, 1)
        return Period(text.strip(), start, add_months(start, 3))
    start = date(year, int(match["month"]), 1)
    return Period(text.strip(), start, add_months(start, 1))


# --- reading the marts ---------------------------------------------------------------------------


def _columns(con: Any, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def _rows(con: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _complete_months_filter(con: Any, schema: str, table: str, alias: str = "") -> str:
    """Rows of complete months only, when the mart labels the current month provisional."""
    prefix = f"{alias}." if alias else ""
    return f"not {prefix}is_provisional" if "is_provisional" in _columns(con, schema, table) else "true"


def read_report_data(con: Any, period: Period) -> dict[str, Any]:
    """Every figure of the report, straight from the marts (values kept exact as Decimal)."""
    trend_start = add_months(period.end, -TREND_MONTHS)
    complete = _complete_months_filter(con, "analytics", "fct_mrr_growth")
    growth = _rows(
        con,
        f"""
        select month_start, reporting_currency, mrr_reporting, arr_reporting, active_customers,
               new_mrr_reporting, expansion_mrr_reporting, contraction_mrr_reporting,
               churn_mrr_reporting, reactivation_mrr_reporting, mrr_change_reporting, mom_growth, yoy_growth
        from analytics.fct_mrr_growth
        where month_start >= ? and month_start < ? and {complete}
        order by month_start
        """,
        [trend_start, period.end],
    )
    currency = growth[-1]["reporting_currency"] if growth else None
    in_period = [row for row in growth if period.start <= row["month_start"] < period.end]
    before = [row for row in growth if row["month_start"] < period.start]
    data: dict[str, Any] = {
        "period": period.label,
        "period_start": period.start,
        "period_end": period.end,
        "reporting_currency": currency,
        "mrr_trend": growth,
        "waterfall": None,
        "kpis": {},
    }
    if in_period:
        last = in_period[-1]
        opening = before[-1]["mrr_reporting"] if before else Decimal(0)
        data["waterfall"] = {
            "opening_mrr": opening,
            **{
                f"{category}_mrr": sum((row[f"{category}_mrr_reporting"] or Decimal(0)) for row in in_period)
                for category in ("new", "expansion", "contraction", "churn", "reactivation")
            },
            "closing_mrr": last["mrr_reporting"],
        }
        data["kpis"] = {
            "mrr": last["mrr_reporting"],
            "arr": last["arr_reporting"],
            "active_customers": last["active_customers"],
            "mom_growth": last["mom_growth"],
            "yoy_growth": last["yoy_growth"],
            "last_complete_month": last["month_start"],
        }

    data["cohorts"] = _rows(
        con,
        """
        select cohort_month, months_since_signup, cohort_customers, active_customers,
               logo_retention, net_revenue_retention
        from analytics.fct_cohort_retention
        where month_start < ?
        order by cohort_month, months_since_signup
        """,
        [period.end],
    )
    data["revenue_by_channel"] = _rows(
        con,
        """
        select revenue_month, channel, currency, billed_amount, listing_fee, net_revenue
        from marketplace.fct_revenue_by_channel
        where revenue_month >= ? and revenue_month < ?
        order by revenue_month, channel, currency
        """,
        [period.start, period.end],
    )
    data["margin_by_plan"] = _margin_by_plan(con, period)
    data["unit_cost"] = _rows(
        con,
        """
        select month_start,
               meter_id || coalesce(' ' || dimension_value, '') as meter_id,
               currency, cost_per_unit, cost_per_1k_units, usage_quantity, total_cost
        from analytics.fct_unit_cost
        where month_start >= ? and month_start < ?
        order by meter_id, month_start
        """,
        [trend_start, period.end],
    )
    mrr_complete = _complete_months_filter(con, "analytics", "fct_mrr")
    tenant = _tenant_label(con, "fct_mrr", "customer_id")
    data["top_customers"] = _rows(
        con,
        f"""
        select {tenant} as customer_id, mrr_reporting, reporting_currency
        from analytics.fct_mrr
        where month_start = (select max(month_start) from analytics.fct_mrr where month_start < ? and {mrr_complete})
        order by mrr_reporting desc, customer_id
        limit {TOP_CUSTOMERS}
        """,
        [period.end],
    )
    projection_columns = _columns(con, "analytics", "fct_revenue_projection")
    band = [c for c in ("mrr_low_reporting", "mrr_high_reporting") if c in projection_columns]
    data["projection"] = _rows(
        con,
        f"""
        select month_start, is_projection, mrr_reporting{"".join(", " + c for c in band)}
        from analytics.fct_revenue_projection
        order by month_start
        """,
    )
    data["pricing_lab"] = _pricing_lab(con)
    data["pricing_lab_margins"] = _pricing_lab_table(
        con,
        "fct_backtest_margin_by_plan",
        """
        select candidate, tenant_id, plan_id, reporting_currency, sum(customers) as customer_months,
               sum(billed_revenue_reporting) as billed_revenue, sum(candidate_revenue_reporting) as candidate_revenue,
               sum(billed_gross_margin_reporting) as billed_gross_margin,
               sum(candidate_gross_margin_reporting) as candidate_gross_margin,
               sum(margin_change_reporting) as margin_change
        from pricing_lab.fct_backtest_margin_by_plan
        group by all order by 1, 2, 3
        """,
    )
    data["pricing_lab_parity"] = _pricing_lab_table(
        con,
        "fct_backtest_price_parity",
        """
        select candidate, marketplace, offering_id, dimension, plan_id, marketplace_price, current_catalog_price,
               candidate_catalog_price, candidate_parity_status, parity_change
        from pricing_lab.fct_backtest_price_parity
        order by 1, 2, 3, 4, 5
        """,
    )
    return data


def _tenant_label(con: Any, table: str, key: str) -> str:
    """SQL for `key`, prefixed with 'tenant / ' when the mart holds several tenants: a customer or plan
    id is unique only within its tenant, so two tenants' `cus_1` must not read (or sum) as one."""
    if "tenant_id" not in _columns(con, "analytics", table):
        return key
    tenants = con.execute(f"select count(distinct tenant_id) from analytics.{table}").fetchone()[0]
    return f"tenant_id || ' / ' || {key}" if tenants > 1 else key


def _margin_by_plan(con: Any, period: Period) -> list[dict[str, Any]]:
    """Gross and contribution margin by plan when the plan margin mart exists, else by SKU."""
    for table, key in (("fct_margin_by_plan", "plan_id"), ("fct_customer_margin", "sku_id")):
        columns = _columns(con, "analytics", table)
        if not columns:
            continue
        revenue = "revenue_reporting" if "revenue_reporting" in columns else None
        cost = next((c for c in ("total_cost_reporting", "cost_reporting") if c in columns), None)
        if not (revenue and cost and key in columns):
            continue
        gross = (
            "gross_margin_reporting"
            if "gross_margin_reporting" in columns
            else f"sum({revenue}) - sum({cost})"
        )
        contribution = (
            "sum(contribution_margin_reporting)"
            if "contribution_margin_reporting" in columns
            else f"sum({revenue}) - sum({cost})"
        )
        gross_sql = f"sum({gross})" if gross == "gross_margin_reporting" else gross
        return _rows(
            con,
            f"""
            select {_tenant_label(con, table, key)} as plan_id, sum({revenue}) as revenue, sum({cost}) as cost,
                   {gross_sql} as gross_margin, {contribution} as contribution_margin
            from analytics.{table}
            where month_start >= ? and month_start < ?
            group by 1
            order by 1
            """,
            [period.start, period.end],
        )
    return []


def _pricing_lab_table(con: Any, table: str, sql: str) -> list[dict[str, Any]]:
    """Rows of a pricing lab mart when a back-test built it (margins and parity need the cost and
    marketplace marts), else none."""
    return _rows(con, sql) if _columns(con, "pricing_lab", table) else []


def _pricing_lab(con: Any) -> list[dict[str, Any]]:
    columns = _columns(con, "pricing_lab", "fct_backtest_summary")
    if not columns:
        return []
    return _rows(con, "select * from pricing_lab.fct_backtest_summary order by 1, 2, 3")


# --- charts ----------------------------------------------------------------------------------------


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update(
        {
            "svg.hashsalt": "usagebill",  # deterministic element ids: the same data gives the same file
            "svg.fonttype": "none",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return plt


def _f(value: Any) -> float:
    """Decimal -> float for drawing only (the figures in the text and the JSON stay exact)."""
    return float(value) if value is not None else 0.0


def _figure(height: float, title: str):
    """A chart drawn by `draw(ax, data)` on a figure 7 x `height` inches, titled `title` (a format string
    over the report data, e.g. "{period}"); the chart is called `chart(plt, data)` and returns the figure."""

    def wrap(draw):
        def chart(plt, data):
            fig, ax = plt.subplots(figsize=(7, height))
            draw(ax, data)
            ax.set_title(title.format_map(data))
            return fig

        return chart

    return wrap


@_figure(2.8, "MRR and ARR, complete months")
def _chart_mrr_trend(ax, data):
    rows = data["mrr_trend"]
    labels = [row["month_start"].strftime("%Y-%m") for row in rows]
    ax.bar(labels, [_f(r["mrr_reporting"]) for r in rows], color="#4C78A8", label="MRR")
    ax2 = ax.twinx()
    ax2.plot(labels, [_f(r["arr_reporting"]) for r in rows], color="#F58518", marker="o", label="ARR")
    ax.set_ylabel(f"MRR ({data['reporting_currency']})")
    ax2.set_ylabel(f"ARR ({data['reporting_currency']})")
    ax.tick_params(axis="x", rotation=45)


@_figure(2.8, "MRR movements in {period} ({reporting_currency})")
def _chart_waterfall(ax, data):
    w = data["waterfall"]
    steps = [
        ("opening", _f(w["opening_mrr"]), "total"),
        ("new", _f(w["new_mrr"]), "delta"),
        ("expansion", _f(w["expansion_mrr"]), "delta"),
        ("reactivation", _f(w["reactivation_mrr"]), "delta"),
        ("contraction", _f(w["contraction_mrr"]), "delta"),
        ("churn", _f(w["churn_mrr"]), "delta"),
        ("closing", _f(w["closing_mrr"]), "total"),
    ]
    level = 0.0
    for i, (_name, value, kind) in enumerate(steps):
        if kind == "total":
            ax.bar(i, value, color="#4C78A8")
            level = value
        else:
            ax.bar(i, value, bottom=level, color="#54A24B" if value >= 0 else "#E45756")
            level += value
    ax.set_xticks(range(len(steps)), [s[0] for s in steps], rotation=30)


@_figure(2.4, "Growth of MRR (%)")
def _chart_growth(ax, data):
    rows = data["mrr_trend"]
    labels = [row["month_start"].strftime("%Y-%m") for row in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [_f(r["mom_growth"]) * 100 for r in rows], width=0.4, label="MoM %")
    ax.bar([x + 0.2 for x in xs], [_f(r["yoy_growth"]) * 100 for r in rows], width=0.4, label="YoY %")
    ax.set_xticks(list(xs), labels, rotation=45)
    ax.axhline(0, color="#888", linewidth=0.5)
    ax.legend(loc="upper left")


def _chart_heatmap(plt, data, field, title):
    cohorts = sorted({row["cohort_month"] for row in data["cohorts"]})
    ages = sorted({row["months_since_signup"] for row in data["cohorts"]})
    fig, ax = plt.subplots(figsize=(7, 0.4 + 0.3 * max(len(cohorts), 3)))
    grid = [[float("nan")] * len(ages) for _ in cohorts]
    for row in data["cohorts"]:
        grid[cohorts.index(row["cohort_month"])][ages.index(row["months_since_signup"])] = (
            _f(row[field]) * 100 if row[field] is not None else float("nan")
        )
    image = ax.imshow(
        grid, aspect="auto", cmap="Blues", vmin=0, vmax=max(100, *(v for r in grid for v in r if v == v))
    )
    ax.set_yticks(range(len(cohorts)), [c.strftime("%Y-%m") for c in cohorts])
    ax.set_xticks(range(len(ages)), [str(a) for a in ages])
    ax.set_xlabel("months since signup")
    fig.colorbar(image, ax=ax, label="%")
    ax.set_title(title)
    return fig


@_figure(2.6, "Revenue by channel, net of marketplace fees (each currency as billed)")
def _chart_channels(ax, data):
    rows = data["revenue_by_channel"]
    channels = sorted({r["channel"] for r in rows})
    months = sorted({r["revenue_month"] for r in rows})
    bottom = [0.0] * len(months)
    for channel in channels:
        values = [
            sum(_f(r["net_revenue"]) for r in rows if r["channel"] == channel and r["revenue_month"] == m)
            for m in months
        ]
        ax.bar([m.strftime("%Y-%m") for m in months], values, bottom=bottom, label=channel)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.legend(loc="upper left", fontsize=7)


@_figure(2.6, "Margins by plan in {period} ({reporting_currency})")
def _chart_margin(ax, data):
    rows = data["margin_by_plan"]
    names = [str(r["plan_id"]) for r in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [_f(r["gross_margin"]) for r in rows], width=0.4, label="gross margin")
    ax.bar(
        [x + 0.2 for x in xs],
        [_f(r["contribution_margin"]) for r in rows],
        width=0.4,
        label="contribution margin",
    )
    ax.set_xticks(list(xs), names, rotation=30)
    ax.legend(loc="upper left", fontsize=7)


@_figure(2.6, "Unit cost per 1,000 units, by meter")
def _chart_unit_cost(ax, data):
    for meter in sorted({r["meter_id"] for r in data["unit_cost"]}):
        rows = [r for r in data["unit_cost"] if r["meter_id"] == meter]
        ax.plot(
            [r["month_start"].strftime("%Y-%m") for r in rows],
            [_f(r["cost_per_1k_units"]) for r in rows],
            marker="o",
            label=meter,
        )
    ax.legend(loc="upper left", fontsize=7)
    ax.tick_params(axis="x", rotation=45)


@_figure(2.6, "MRR: actuals and projection")
def _chart_projection(ax, data):
    rows = data["projection"]
    labels = [r["month_start"].strftime("%Y-%m") for r in rows]
    ax.plot(labels, [_f(r["mrr_reporting"]) for r in rows], marker="o", color="#4C78A8")
    if rows and "mrr_low_reporting" in rows[0]:
        # the band starts at the last actual month (its low = high = the actual MRR) so it joins the line
        projected = [
            i
            for i, r in enumerate(rows)
            if r["is_projection"] or (i + 1 < len(rows) and rows[i + 1]["is_projection"])
        ]
        ax.fill_between(
            [labels[i] for i in projected],
            [_f(rows[i]["mrr_low_reporting"]) for i in projected],
            [_f(rows[i]["mrr_high_reporting"]) for i in projected],
            alpha=0.25,
            color="#4C78A8",
            label="uncertainty band",
        )
        ax.legend(loc="upper left", fontsize=7)
    ax.tick_params(axis="x", rotation=45)


CHARTS = [
    ("mrr_trend", "MRR and ARR trend", _chart_mrr_trend, lambda d: bool(d["mrr_trend"])),
    ("waterfall", "MRR movements", _chart_waterfall, lambda d: d["waterfall"] is not None),
    ("growth", "Growth", _chart_growth, lambda d: bool(d["mrr_trend"])),
    (
        "logo_retention",
        "Cohort logo retention",
        lambda p, d: _chart_heatmap(p, d, "logo_retention", "Logo retention by cohort (%)"),
        lambda d: bool(d["cohorts"]),
    ),
    (
        "net_revenue_retention",
        "Cohort net revenue retention",
        lambda p, d: _chart_heatmap(p, d, "net_revenue_retention", "Net revenue retention by cohort (%)"),
        lambda d: bool(d["cohorts"]),
    ),
    ("channels", "Revenue by channel", _chart_channels, lambda d: bool(d["revenue_by_channel"])),
    ("margins", "Margins by plan", _chart_margin, lambda d: bool(d["margin_by_plan"])),
    ("unit_cost", "Unit cost trend", _chart_unit_cost, lambda d: bool(d["unit_cost"])),
    ("projection", "Revenue projection", _chart_projection, lambda d: bool(d["projection"])),
]


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": "usagebill"})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


# --- HTML and PDF ----------------------------------------------------------------------------------


def _money(value: Any, currency: str | None) -> str:
    if value is None:
        return "n/a"
    return f"{Decimal(value).quantize(Decimal('0.01')):,} {currency or ''}".strip()


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{(Decimal(value) * 100).quantize(Decimal('0.1'))} %"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 980px; color: #222; }
h1 { margin-bottom: 0; } .sub { color: #666; margin-top: .2em; }
.kpis { display: flex; flex-wrap: wrap; gap: 1em; margin: 1.5em 0; }
.kpi { border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; min-width: 9em; }
.kpi .label { color: #666; font-size: .8em; } .kpi .value { font-size: 1.3em; font-weight: 600; }
figure { margin: 1.5em 0; } figure svg { width: 100%; height: auto; }
table { border-collapse: collapse; } td, th { padding: .3em .8em; border-bottom: 1px solid #eee; text-align: right; }
td:first-child, th:first-child { text-align: left; }
"""


def render_html(data: dict[str, Any], charts: dict[str, str]) -> str:
    currency = data["reporting_currency"]
    kpis = data["kpis"]
    kpi_cells = [
        ("MRR", _money(kpis.get("mrr"), currency), "mrr"),
        ("ARR", _money(kpis.get("arr"), currency), "arr"),
        ("Active customers", str(kpis.get("active_customers", "n/a")), "active_customers"),
        ("MoM growth", _pct(kpis.get("mom_growth")), "mom_growth"),
        ("YoY growth", _pct(kpis.get("yoy_growth")), "yoy_growth"),
    ]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>usagebill executive report {html.escape(data['period'])}</title><style>{CSS}</style></head><body>",
        f"<h1>Executive report {html.escape(data['period'])}</h1>",
        f"<p class='sub'>{data['period_start']} to {data['period_end']} (exclusive); complete months only; "
        f"amounts in {html.escape(str(currency))} (reporting currency)",
        f"{'; last complete month ' + str(kpis['last_complete_month']) if kpis.get('last_complete_month') else ''}</p>",
        "<div class='kpis'>",
    ]
    for label, value, key in kpi_cells:
        parts.append(
            f"<div class='kpi' data-kpi='{key}'><div class='label'>{label}</div><div class='value'>{html.escape(value)}</div></div>"
        )
    parts.append("</div>")
    for key, title, *_ in CHARTS:
        if key in charts:
            parts.append(
                f"<figure data-chart='{key}'><figcaption><h2>{title}</h2></figcaption>{charts[key]}</figure>"
            )
    if data["top_customers"]:
        parts.append("<h2>Top customers by MRR</h2><table><tr><th>customer</th><th>MRR</th></tr>")
        for row in data["top_customers"]:
            parts.append(
                f"<tr data-customer='{html.escape(row['customer_id'])}'><td>{html.escape(row['customer_id'])}</td>"
                f"<td>{_money(row['mrr_reporting'], row['reporting_currency'])}</td></tr>"
            )
        parts.append("</table>")
    for key, title in (
        ("pricing_lab", "Pricing lab"),
        ("pricing_lab_margins", "Pricing lab: margins by plan under each candidate (same cost)"),
        ("pricing_lab_parity", "Pricing lab: marketplace price parity under each candidate"),
    ):
        if not data.get(key):
            continue
        parts.append(f"<h2>{html.escape(title)}</h2><table data-table='{key}'>")
        columns = list(data[key][0])
        parts.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>")
        for row in data[key]:
            parts.append("<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in columns) + "</tr>")
        parts.append("</table>")
    parts.append(
        "<script type='application/json' id='report-data'>"
        + html.escape(json.dumps(data, default=_json_default, sort_keys=True), quote=False)
        + "</script></body></html>"
    )
    return "\n".join(parts)


def build_report(warehouse: Path, period: Period, out_dir: Path) -> dict[str, Path]:
    """Write executive-<period>.html and .pdf under out_dir; return their paths."""
    import duckdb
    from matplotlib.backends.backend_pdf import PdfPages

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        data = read_report_data(con, period)
    finally:
        con.close()
    if not data["mrr_trend"]:
        raise ValueError(
            f"no complete month of MRR before {period.end} in {warehouse}: build the analytics marts "
            "(make demo, or materialize the analytics group) or pick another period"
        )
    plt = _plt()
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"executive-{period.label}.html"
    pdf_path = out_dir / f"executive-{period.label}.pdf"
    charts: dict[str, str] = {}
    with PdfPages(
        pdf_path, metadata={"Title": f"usagebill executive report {period.label}", "CreationDate": None}
    ) as pdf:
        cover = plt.figure(figsize=(8.27, 11.69))
        lines = [f"Executive report {period.label}", ""] + [
            f"{k.replace('_', ' ')}: {_money(v, data['reporting_currency']) if k in ('mrr', 'arr') else _pct(v) if 'growth' in k else v}"
            for k, v in data["kpis"].items()
        ]
        lines += ["", "Top customers by MRR:"] + [
            f"  {r['customer_id']}: {_money(r['mrr_reporting'], r['reporting_currency'])}"
            for r in data["top_customers"]
        ]
        cover.text(0.08, 0.92, "\n".join(lines), va="top", family="monospace", fontsize=10)
        pdf.savefig(cover)
        plt.close(cover)
        for key, _title, draw, available in CHARTS:
            if not available(data):
                continue
            fig = draw(plt, data)
            charts[key] = _svg(fig)
            pdf.savefig(fig, bbox_inches="tight")
            plt.close(fig)
    html_path.write_text(render_html(data, charts), encoding="utf-8")
    return {"html": html_path, "pdf": pdf_path}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usagebill report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--period", required=True, help="a quarter (2026-Q3) or a month (2026-09)")
    parser.add_argument("--warehouse", type=Path, default=None, help="default: USAGEBILL_WAREHOUSE")
    parser.add_argument("--out", type=Path, default=None, help="default: <reports dir>/executive")
    args = parser.parse_args(argv)
    try:
        period = parse_period(args.period)
        paths = build_report(
            args.warehouse or warehouse_path(), period, args.out or reports_dir() / "executive"
        )
    except ValueError as exc:
        print(f"usagebill report: {exc}", file=sys.stderr)
        return 2
    print(f"executive report {period.label}: {paths['html']} and {paths['pdf']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
