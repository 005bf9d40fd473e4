"""The pricing lab: back-test candidate price books on the real usage history.

    usagebill pricing backtest --candidate DIR [--candidate DIR2 ...] --from 2026-05 --to 2026-10 \
        [--as-of 2026-11-08] [--threshold-pct 10] [--format table|json]

For each candidate (a folder of catalog YAML files: plans.yaml, meters.yaml, discounts.yaml, ...;
files it does not have are taken from the current catalog, so customers and subscriptions stay
as they are), the lab re-rates the real history through the SAME dbt rating models as production
(there is no second pricing implementation):

1. the current catalog with the candidate's files laid over it is validated and normalized
   (usagebill.catalog) into a scratch raw layer whose other folders point at the real raw layer;
2. the scratch DuckDB file receives a copy of the real usage journal (usage.fct_usage_journal),
   so the history is exactly what production billed from, and `dbt build` rates it as of the same
   date as production (`--as-of`, default USAGEBILL_AS_OF_DATE);
3. the candidate's billing lines of the periods starting in [--from, --to] are written to the
   raw layer (raw/pricing_lab_lines/candidate=<name>/), and dbt builds the pricing_lab marts in the
   warehouse, comparing them with what was billed (billing.fct_billing_lines).

A candidate identical to the current price book gives a difference of exactly 0 for every
customer and month. Marts: pricing_lab.fct_backtest_customer_months (candidate x customer x month x
currency), pricing_lab.fct_backtest_summary (candidate x month x currency, with winners and losers).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from usagebill import paths
from usagebill.catalog import CatalogError, load_catalog
from usagebill.dbt_cli import dbt_path_args, find_dbt, scratch_duckdb_env
from usagebill.engine import engine, sync_spark_views, table_exists
from usagebill.rating import LINE_COLUMNS as RATED_LINE_COLUMNS

CANDIDATE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LINES_DIR = "pricing_lab_lines"
PRICES_DIR = "pricing_lab_prices"
# The candidate's per-unit usage prices (for marketplace price parity under the candidate): the same
# charges marketplace.fct_marketplace_price_parity compares, read from the candidate's staged catalog.
PRICES_SQL = """
select plan_id, cast(plan_version as integer) as plan_version, meter_id, unit_price, unit_size
from staging.stg_catalog__plan_charges
where charge_type = 'usage' and price_model = 'per_unit' and dimension_value is null
order by plan_id, plan_version, meter_id
"""
# The columns of a rated billing line (usagebill.rating.LINE_COLUMNS, in its order) that the back-test
# compares; the dbt pricing_lab models read them from the candidate's lines.parquet.
_COMPARED = frozenset(
    [
        "billing_line_id",
        "tenant_id",
        "customer_id",
        "subscription_id",
        "plan_id",
        "charge_id",
        "meter_id",
        "line_type",
        "period_start",
        "period_end",
        "quantity",
        "amount",
        "amount_rounded",
        "currency",
    ]
)
LINE_COLUMNS = tuple(c for c in RATED_LINE_COLUMNS if c in _COMPARED)


class PricingLabError(RuntimeError):
    """The back-test could not run; the message says why and what to do."""


def parse_month(text: str) -> date:
    match = re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", text.strip())
    if not match:
        raise PricingLabError(f"month {text!r}: expected YYYY-MM, e.g. 2026-05")
    return date(int(match[1]), int(match[2]), 1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def candidate_name(directory: Path) -> str:
    name = directory.resolve().name
    if not CANDIDATE_NAME_RE.match(name):
        raise PricingLabError(
            f"candidate folder name {name!r} must be 1-64 letters, digits, '_', '.' or '-' (it names the candidate)"
        )
    return name


def _overlay_catalog(current: Path, candidate: Path, target: Path) -> list[str]:
    """The current catalog with the candidate's YAML files laid over it; returns the files replaced."""
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(current.glob("*.yaml")):
        shutil.copyfile(source, target / source.name)
    replaced = []
    for source in sorted(candidate.glob("*.yaml")):
        shutil.copyfile(source, target / source.name)
        replaced.append(source.name)
    if not replaced:
        raise PricingLabError(
            f"candidate {candidate} holds no .yaml catalog file (plans.yaml, meters.yaml, ...)"
        )
    return replaced


def _dbt(
    args: list[str],
    *,
    env: dict[str, str],
    workdir: Path,
    as_of: date,
    extra_vars: dict[str, str] | None = None,
) -> None:
    executable = find_dbt()
    if not executable:
        raise PricingLabError("dbt is not installed beside this Python nor on PATH; run `make install`")
    command = [
        executable,
        "build",
        *args,
        "--indirect-selection",
        "cautious",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps({"as_of_date": as_of.isoformat(), **(extra_vars or {})}),
        *dbt_path_args(paths.dbt_project_dir(), workdir),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        failing = [ln for ln in done.stdout.splitlines() if "ERROR" in ln or "FAIL" in ln or "Error" in ln]
        raise PricingLabError(
            "dbt build failed:\n  " + "\n  ".join(failing[-25:] or done.stdout.splitlines()[-25:])
        )


def _replace_parquet(out_dir: Path, name: str, table: Any) -> Path:
    """Replace a candidate's folder with one parquet file (written aside, then renamed into place)."""
    import pyarrow.parquet as pq

    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    tmp = out_dir / f"{name}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, out_dir / name)
    return out_dir


def rate_candidate(
    candidate: Path,
    *,
    warehouse: Path,
    raw_dir: Path,
    catalog_dir: Path,
    period_start: date,
    period_end: date,
    as_of: date,
    progress: Callable[[str], None] = print,
) -> Path:
    """Re-rate the real journal under `candidate`; write its lines to raw/pricing_lab_lines/candidate=NAME/
    and its per-unit usage prices to raw/pricing_lab_prices/candidate=NAME/."""
    import duckdb

    name = candidate_name(candidate)
    workdir = Path(tempfile.mkdtemp(prefix=f"usagebill-lab-{name}-"))
    try:
        scratch_raw = workdir / "raw"
        scratch_raw.mkdir()
        replaced = _overlay_catalog(catalog_dir, candidate, workdir / "catalog")
        try:
            load_catalog(workdir / "catalog", scratch_raw)
        except CatalogError as exc:
            raise PricingLabError(f"candidate {name}: {exc}") from exc
        for entry in raw_dir.iterdir():
            if (
                entry.name not in ("catalog", LINES_DIR, PRICES_DIR)
                and not (scratch_raw / entry.name).exists()
            ):
                (scratch_raw / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
        scratch = workdir / "lab.duckdb"
        con = duckdb.connect(str(scratch))
        try:
            con.execute(f"attach '{warehouse}' as production (read_only)")
            con.execute("create schema usage")
            con.execute(
                "create table usage.fct_usage_journal as select * from production.usage.fct_usage_journal"
            )
            con.execute("detach production")
        finally:
            con.close()
        progress(f"pricing lab: {name}: rating the real journal with {', '.join(replaced)} replaced ...")
        # Everything rating needs, except the journal itself (copied above: the history production billed).
        _dbt(
            ["--select", "+fct_billing_lines", "--exclude", "fct_usage_journal"],
            env=scratch_duckdb_env(scratch_raw, scratch),
            workdir=workdir,
            as_of=as_of,
        )
        con = duckdb.connect(str(scratch), read_only=True)
        try:
            table = con.sql(
                f"select {', '.join(LINE_COLUMNS)}, cast(? as date) as window_start, cast(? as date) as window_end "
                "from billing.fct_billing_lines where period_start >= ? and period_start < ? order by billing_line_id",
                params=[period_start, period_end, period_start, period_end],
            ).to_arrow_table()
            prices = con.sql(PRICES_SQL).to_arrow_table()
        finally:
            con.close()
        _replace_parquet(raw_dir / PRICES_DIR / f"candidate={name}", "prices.parquet", prices)
        out_dir = _replace_parquet(raw_dir / LINES_DIR / f"candidate={name}", "lines.parquet", table)
        progress(f"pricing lab: {name}: {table.num_rows} candidate billing lines")
        return out_dir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# Marts that compare the candidate with the analytics cost marts (margins): built only when those are
# in the warehouse (the daily analytics job builds them; a bare rating warehouse has none).
# (required table, marts that need it, what to build first)
OPTIONAL_MARTS = (
    (
        ("analytics", "fct_margin_by_customer"),
        ("fct_backtest_margins", "fct_backtest_margin_by_plan"),
        "margins under the candidates",
    ),
    (
        ("marketplace", "fct_marketplace_price_parity"),
        ("fct_backtest_price_parity",),
        "marketplace price parity under the candidates",
    ),
)


def _has_table(warehouse: Path, schema: str, table: str) -> bool:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return table_exists(con, schema, table)
    finally:
        con.close()


def build_marts(
    warehouse: Path,
    raw_dir: Path,
    as_of: date,
    threshold_pct: Decimal,
    progress: Callable[[str], None] = print,
) -> None:
    """The pricing_lab marts, in the production warehouse, on the configured engine (USAGEBILL_ENGINE).

    On Spark they are Spark tables beside the billing marts they compare with; the DuckDB file then
    gets its views over them again (usagebill.engine.sync_spark_views), as after every Spark build.
    """
    exclude: list[str] = []
    for (schema, table), marts, what in OPTIONAL_MARTS:
        if not _has_table(warehouse, schema, table):
            exclude += list(marts)
            progress(
                f"pricing lab: no {schema}.{table} in {warehouse}: {what} are skipped "
                f"(build it first: dbt build --select +{table})"
            )
    if exclude:
        exclude.insert(0, "--exclude")
    workdir = Path(tempfile.mkdtemp(prefix="usagebill-lab-marts-"))
    on_spark = engine() == "spark"
    env = scratch_duckdb_env(raw_dir, warehouse)
    if on_spark:
        env.pop("USAGEBILL_DBT_TARGET")
        env["USAGEBILL_SPARK_DIR"] = str(paths.spark_dir())
    try:
        _dbt(
            ["--select", "stg_pricing_lab__candidate_lines+", "stg_pricing_lab__candidate_prices+", *exclude],
            extra_vars={"pricing_lab_threshold_pct": str(threshold_pct)},
            env=env,
            workdir=workdir,
            as_of=as_of,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if on_spark:
        sync_spark_views(warehouse, paths.spark_dir(), progress=progress)


def read_results(warehouse: Path, candidates: list[str]) -> dict[str, Any]:
    """The JSON document: per candidate, per currency and per customer, billed, candidate and difference."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            """
            select candidate, currency, tenant_id, customer_id, sum(billed_total), sum(candidate_total),
                   sum(difference), bool_or(exceeds_threshold)
            from pricing_lab.fct_backtest_customer_months
            where candidate in (select unnest(?))
            group by all order by 1, 2, 3, 4
            """,
            [candidates],
        ).fetchall()
    finally:
        con.close()
    # A customer id is unique only within its tenant: with several tenants, customers are keyed
    # "tenant/customer" so that two tenants' cus_1 never merge.
    several_tenants = len({row[2] for row in rows}) > 1
    out: dict[str, Any] = {}
    for candidate, currency, tenant, customer_id, billed, cand, diff, exceeds in rows:
        customer = f"{tenant}/{customer_id}" if several_tenants else customer_id
        per_currency = out.setdefault(candidate, {}).setdefault(
            currency,
            {
                "billed_total": Decimal(0),
                "candidate_total": Decimal(0),
                "difference": Decimal(0),
                "customers": {},
            },
        )
        per_currency["billed_total"] += billed
        per_currency["candidate_total"] += cand
        per_currency["difference"] += diff
        per_currency["customers"][customer] = {
            "billed_total": billed,
            "candidate_total": cand,
            "difference": diff,
            "exceeds_threshold": bool(exceeds),
            "tenant_id": tenant,
        }
    return out


def read_margins(warehouse: Path, candidates: list[str]) -> dict[str, dict[str, Any]]:
    """Per candidate: billed and candidate gross margin and the change, in the reporting currency
    (pricing_lab.fct_backtest_margins); empty when the margins were not built."""
    if not _has_table(warehouse, "pricing_lab", "fct_backtest_margins"):
        return {}
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            """
            select candidate, reporting_currency, sum(billed_gross_margin_reporting),
                   sum(candidate_gross_margin_reporting), sum(margin_change_reporting)
            from pricing_lab.fct_backtest_margins
            where candidate in (select unnest(?))
            group by all order by 1, 2
            """,
            [candidates],
        ).fetchall()
    finally:
        con.close()
    return {
        candidate: {
            "reporting_currency": currency,
            "billed_gross_margin": billed,
            "candidate_gross_margin": cand,
            "margin_change": change,
        }
        for candidate, currency, billed, cand, change in rows
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def backtest(
    candidates: list[Path],
    period_start: date,
    period_end: date,
    *,
    as_of: date,
    threshold_pct: Decimal = Decimal(10),
    warehouse: Path | None = None,
    raw_dir: Path | None = None,
    catalog_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    warehouse = warehouse or paths.warehouse_path()
    raw_dir = raw_dir or paths.raw_dir()
    catalog_dir = catalog_dir or paths.catalog_dir()
    if not warehouse.exists():
        raise PricingLabError(
            f"no warehouse at {warehouse}: run `make demo` (or the daily billing job) first"
        )
    names = [candidate_name(c) for c in candidates]
    if len(set(names)) != len(names):
        raise PricingLabError(
            f"two candidates share a folder name ({names}); the folder name names the candidate"
        )
    for candidate in candidates:
        if not candidate.is_dir():
            raise PricingLabError(f"candidate {candidate} is not a folder of catalog YAML files")
        rate_candidate(
            candidate,
            warehouse=warehouse,
            raw_dir=raw_dir,
            catalog_dir=catalog_dir,
            period_start=period_start,
            period_end=period_end,
            as_of=as_of,
            progress=progress,
        )
    progress("pricing lab: comparing with what was billed (dbt: pricing_lab marts) ...")
    build_marts(warehouse, raw_dir, as_of, threshold_pct, progress)
    return read_results(warehouse, names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usagebill pricing", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("backtest", help="re-rate the history under candidate price books and compare")
    run.add_argument(
        "--candidate", type=Path, action="append", required=True, help="folder of catalog YAML (repeatable)"
    )
    run.add_argument("--from", dest="from_month", required=True, help="first month, YYYY-MM")
    run.add_argument("--to", dest="to_month", required=True, help="last month (inclusive), YYYY-MM")
    run.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="rating date (default USAGEBILL_AS_OF_DATE)"
    )
    run.add_argument(
        "--threshold-pct", type=Decimal, default=Decimal(10), help="flag bills changing by more (default 10)"
    )
    run.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args(argv)
    try:
        start, last = parse_month(args.from_month), parse_month(args.to_month)
        if last < start:
            raise PricingLabError(f"--to {args.to_month} is before --from {args.from_month}")
        as_of = args.as_of or date.fromisoformat(
            os.environ.get("USAGEBILL_AS_OF_DATE") or date.today().isoformat()
        )
        if not Decimal(0) <= args.threshold_pct <= Decimal(1000):
            raise PricingLabError("--threshold-pct is a percentage from 0 to 1000 (10 means 10 %)")
        results = backtest(
            args.candidate,
            start,
            next_month(last),
            as_of=as_of,
            threshold_pct=args.threshold_pct,
            progress=lambda m: print(m, file=sys.stderr, flush=True),
        )
    except PricingLabError as exc:
        print(f"usagebill pricing: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(_plain(results), indent=2, sort_keys=True))
        return 0
    print(
        f"{'candidate':<20} {'currency':<8} {'billed':>16} {'candidate':>16} {'difference':>14} {'flagged':>8}"
    )
    for candidate, currencies in results.items():
        for currency, figures in currencies.items():
            flagged = sum(1 for c in figures["customers"].values() if c["exceeds_threshold"])
            print(
                f"{candidate:<20} {currency:<8} {figures['billed_total']:>16} {figures['candidate_total']:>16} "
                f"{figures['difference']:>14} {flagged:>8}"
            )
    margins = read_margins(paths.warehouse_path(), list(results))
    if margins:
        print(f"\n{'candidate':<20} {'gross margin billed':>22} {'under candidate':>22} {'change':>16}")
        for candidate, m in margins.items():
            unit = m["reporting_currency"]
            print(
                f"{candidate:<20} {m['billed_gross_margin']:>18.2f} {unit} {m['candidate_gross_margin']:>18.2f} "
                f"{unit} {m['margin_change']:>12.2f} {unit}"
            )
    print('details: usagebill sql "select * from pricing_lab.fct_backtest_customer_months"')
    print(
        "         (and pricing_lab.fct_backtest_margins, fct_backtest_margin_by_plan, fct_backtest_price_parity)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
