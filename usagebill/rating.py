"""`usagebill rate`: rate a usage file against a catalog for a period, through the production path.

    usagebill rate --catalog DIR [--usage FILE] --period-start 2026-05-01 --period-end 2026-06-01 [--format json|table]

Without --usage (or with empty files) only the catalog's fees are rated. Usage that is not billed is
reported per reason (warning line, JSON `unbilled`, billing.fct_unbilled_usage).

Same code as production, in a temporary directory that is deleted afterwards:
1. validate and normalize the catalog (usagebill.catalog) into <tmp>/raw/catalog/*.parquet;
2. load the usage file(s) (CSV, JSON lines, Parquet in the event contract) with the production
   loader (validation, quarantine) into <tmp>/raw/usage_events/. The library does not import the
   loader (layers, docs/architecture.md): the command (cli/rate.py) passes ingestion.landing's as
   `load_usage`; a direct call without it uses the loader installed under the entry point group
   "usagebill.usage_loaders" (pyproject.toml);
3. `dbt build --select +fct_billing_lines +fct_credit_balances` against a temporary DuckDB file
   and target path, with var as_of_date = --as-of (default: --period-end);
4. print the lines of the billing periods starting in [period_start, period_end) per customer,
   with totals per currency (sums of the rounded lines). The production warehouse is never opened.
The JSON output is documented in docs/pricing.md ("The rate command").
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from usagebill import paths
from usagebill.catalog import CatalogError, load_catalog
from usagebill.dbt_cli import dbt_path_args, find_dbt, scratch_duckdb_env
from usagebill.money import MINOR_UNITS

LINE_COLUMNS = (
    "billing_line_id",
    "tenant_id",
    "customer_id",
    "subscription_id",
    "plan_id",
    "plan_version",
    "charge_id",
    "charge_name",
    "charge_type",
    "price_model",
    "price_id",
    "price_source",
    "meter_id",
    "line_type",
    "billing_timing",
    "period_start",
    "period_end",
    "service_start",
    "service_end",
    "quantity",
    "unit_price",
    "tier_breakdown_json",
    "amount",
    "amount_rounded",
    "currency",
    "minor_unit",
    "dimensions_json",
    "application_step",
    "sequence_in_period",
)
BALANCE_COLUMNS = (
    "grant_id",
    "tenant_id",
    "customer_id",
    "currency",
    "granted_at",
    "expires_at",
    "amount_granted",
    "amount_used",
    "amount_expired",
    "balance",
)
SELECTORS = ("+fct_billing_lines", "+fct_credit_balances", "+fct_unbilled_usage")
UNBILLED_COLUMNS = ("reason", "meter_id", "events", "quantity")


class RatingError(RuntimeError):
    """Rating could not run (bad catalog, unreadable usage file, dbt failure); the message says why."""


@dataclass
class RatingResult:
    period_start: date
    period_end: date
    as_of_date: date
    lines: list[dict[str, Any]]
    credit_balances: list[dict[str, Any]]
    events_loaded: int
    events_quarantined: int
    quarantine_reasons: list[dict[str, Any]] = field(default_factory=list)
    # usage not billed, per reason and meter: {"reason", "meter_id", "events", "quantity"}
    unbilled: list[dict[str, Any]] = field(default_factory=list)

    def unbilled_totals(self) -> dict[str, tuple[int, Decimal]]:
        """Events and quantity not billed, per reason."""
        out: dict[str, tuple[int, Decimal]] = {}
        for row in self.unbilled:
            events, quantity = out.get(row["reason"], (0, Decimal(0)))
            out[row["reason"]] = (events + row["events"], quantity + (row["quantity"] or Decimal(0)))
        return dict(sorted(out.items()))

    def totals(self, customer_id: str | None = None, tenant_id: str | None = None) -> dict[str, Decimal]:
        """Sum of the rounded lines per currency (for one customer, or all; a customer is
        (tenant_id, customer_id): give tenant_id when two tenants use the same customer id)."""
        out: dict[str, Decimal] = {}
        for line in self.lines_of(customer_id, tenant_id):
            out[line["currency"]] = out.get(line["currency"], Decimal(0)) + line["amount_rounded"]
        return dict(sorted(out.items()))

    def lines_of(self, customer_id: str | None, tenant_id: str | None = None) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines
            if (customer_id is None or line["customer_id"] == customer_id)
            and (tenant_id is None or line["tenant_id"] == tenant_id)
        ]


def _dbt_executable() -> str:
    found = find_dbt()
    if not found:
        raise RatingError(
            "dbt is not installed next to this Python nor on PATH; install the project (uv sync)"
        )
    return found


def run_dbt_build(
    workdir: Path,
    raw_dir: Path,
    warehouse: Path,
    as_of: date,
    selectors: tuple[str, ...] = SELECTORS,
    progress: Callable[[str], None] = print,
    unit_tests: bool = False,
) -> None:
    """`dbt build` of the selected models into `warehouse` (a DuckDB file), isolated under `workdir`.

    Data tests gate the build (a failing test fails the rating); dbt unit tests of the SQL only run
    when `unit_tests` (they check the code, not the data, and cost about a second each).
    """
    env = scratch_duckdb_env(
        raw_dir, warehouse, DBT_TARGET_PATH=str(workdir / "target"), DBT_LOG_PATH=str(workdir / "logs")
    )
    project = paths.dbt_project_dir()
    command = [
        _dbt_executable(),
        "build",
        "--select",
        *selectors,
        "--indirect-selection",
        "cautious",
        "--vars",
        json.dumps({"as_of_date": as_of.isoformat()}),
        *dbt_path_args(project, workdir),
    ]
    if not unit_tests:
        command += ["--exclude-resource-type", "unit_test"]
    progress(f"rating: dbt build {' '.join(selectors)} (as_of_date={as_of}) ...")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        failing = [ln for ln in done.stdout.splitlines() if "ERROR" in ln or "FAIL" in ln or "Error" in ln]
        raise RatingError(
            "dbt build failed; nothing was billed. Failing steps:\n  "
            + "\n  ".join(failing[-25:] or done.stdout.splitlines()[-25:])
        )


# load_usage(data_dir, raw_dir, progress=callable): validate the files under data_dir/landing/usage/
# into raw_dir (usage_events/, quarantine/): ingestion.landing.load_landing
UsageLoader = Callable[..., object]
USAGE_LOADER_GROUP = "usagebill.usage_loaders"


def installed_usage_loader() -> UsageLoader:
    """The usage loader registered under the entry point group USAGE_LOADER_GROUP (pyproject.toml
    registers ingestion.landing's). Found by name, so the library never imports the ingestion layer."""
    from importlib.metadata import entry_points

    found = sorted(entry_points(group=USAGE_LOADER_GROUP), key=lambda ep: ep.name)
    if not found:
        raise RatingError(
            f"no usage loader is installed (entry point group {USAGE_LOADER_GROUP!r}): run `make install-dev`, "
            "or use `usagebill rate` / cli.rate.rate, which pass ingestion's loader"
        )
    return found[0].load()


def _load_usage(
    usage_files: list[Path],
    workdir: Path,
    raw_dir: Path,
    arrival: date,
    progress: Callable[[str], None],
    load_usage: UsageLoader | None,
) -> tuple[int, int, list[dict[str, Any]]]:
    landing = workdir / "data" / "landing" / "usage" / f"arrival_date={arrival.isoformat()}"
    landing.mkdir(parents=True, exist_ok=True)
    for index, source in enumerate(usage_files):
        if not source.is_file():
            raise RatingError(
                f"usage file {source} does not exist; pass --usage FILE (CSV, JSON lines or Parquet)"
            )
        shutil.copyfile(source, landing / f"{index:03d}-{source.name}")
    if usage_files:
        (load_usage or installed_usage_loader())(workdir / "data", raw_dir, progress=lambda message: None)
    import duckdb

    con = duckdb.connect()
    try:
        loaded = quarantined = 0
        reasons: list[dict[str, Any]] = []
        events = list((raw_dir / "usage_events").glob("*/*.parquet"))
        if events:
            loaded = con.execute(
                f"select count(*) from read_parquet('{raw_dir}/usage_events/*/*.parquet')"
            ).fetchall()[0][0]
        if list((raw_dir / "quarantine").glob("*/*.parquet")):
            rows = con.execute(
                f"select field, rule, reason, count(*) from read_parquet('{raw_dir}/quarantine/*/*.parquet') "
                "group by all order by 4 desc, 1, 2, 3"
            ).fetchall()
            reasons = [{"field": f, "rule": r, "reason": why, "count": n} for f, r, why, n in rows]
            quarantined = sum(n for *_, n in rows)
    finally:
        con.close()
    progress(f"rating: {loaded} usage events loaded, {quarantined} quarantined")
    if not loaded and quarantined:
        # events were given but none is valid: rating only the fees would hide a broken file
        raise RatingError(
            "no valid usage event was loaded; check the file format (docs/events.md) and the "
            "quarantine reasons: " + json.dumps(reasons)[:2000]
        )
    if not loaded:
        progress("rating: no usage events (no usage file, or empty files): rating the fees only")
    return loaded, quarantined, reasons


def _fetch(con: Any, sql: str, columns: tuple[str, ...], params: list[Any]) -> list[dict[str, Any]]:
    rows = con.execute(sql, params).fetchall()
    return [dict(zip(columns, row, strict=True)) for row in rows]


def rate(
    catalog_dir: Path | str,
    usage_files: list[Path | str],
    period_start: date,
    period_end: date,
    *,
    as_of: date | None = None,
    keep_dir: Path | str | None = None,
    progress: Callable[[str], None] = print,
    unit_tests: bool = False,
    load_usage: UsageLoader | None = None,
) -> RatingResult:
    """Rate `usage_files` against the catalog; lines of billing periods starting in [period_start, period_end).

    load_usage(data_dir, raw_dir, progress=...) loads the files (default: installed_usage_loader()).

    as_of (default period_end) is dbt's var('as_of_date'): periods ended by then are rated in full.
    keep_dir: use (and keep) this directory instead of a temporary one (for inspection).
    """
    if period_end <= period_start:
        raise RatingError(
            f"--period-end {period_end} must be after --period-start {period_start} (half-open)"
        )
    as_of = as_of or period_end
    workdir = Path(keep_dir) if keep_dir else Path(tempfile.mkdtemp(prefix="usagebill-rate-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        raw_dir = workdir / "raw"
        warehouse = workdir / "rate.duckdb"
        try:
            counts = load_catalog(catalog_dir, raw_dir)
        except CatalogError as exc:
            raise RatingError(str(exc)) from exc
        progress(
            f"rating: catalog valid ({counts['customers']} customers, {counts['subscriptions']} subscriptions)"
        )
        # prepaid credits pay invoices after tax (docs/invoices.md), so credit balances need the tax
        # configuration: the catalog's issuer.yaml / tax_rates.yaml, else the shipped examples
        from usagebill.invoices.tax_config import TaxConfigError, write_raw

        try:
            write_raw(Path(catalog_dir), raw_dir, announce=False)
        except TaxConfigError as exc:
            raise RatingError(str(exc)) from exc
        loaded, quarantined, reasons = _load_usage(
            [Path(f) for f in usage_files], workdir, raw_dir, period_end, progress, load_usage
        )
        run_dbt_build(workdir, raw_dir, warehouse, as_of, progress=progress, unit_tests=unit_tests)
        import duckdb

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            lines = _fetch(
                con,
                f"select {', '.join(LINE_COLUMNS)} from billing.fct_billing_lines "
                "where period_start >= ? and period_start < ? "
                "order by tenant_id, customer_id, subscription_id, period_start, sequence_in_period",
                LINE_COLUMNS,
                [period_start, period_end],
            )
            unbilled = _fetch(
                con,
                "select reason, coalesce(meter_id, ''), count(*), sum(quantity) from billing.fct_unbilled_usage "
                "where event_ts >= ? and event_ts < ? group by all order by 1, 2",
                UNBILLED_COLUMNS,
                [period_start, period_end],
            )
            balances = _fetch(
                con,
                f"select {', '.join(BALANCE_COLUMNS)} from billing.fct_credit_balances "
                "order by tenant_id, customer_id, grant_id",
                BALANCE_COLUMNS,
                [],
            )
        finally:
            con.close()
        result = RatingResult(period_start, period_end, as_of, lines, balances, loaded, quarantined, reasons)
        result.unbilled = unbilled
        if unbilled:
            progress("rating: WARNING " + unbilled_warning(result))
        return result
    finally:
        if not keep_dir:
            shutil.rmtree(workdir, ignore_errors=True)


# -- output ----------------------------------------------------------------------------------------
def unbilled_warning(result: RatingResult) -> str:
    """One line: how much usage of the window was not billed, per reason."""
    parts = [
        f"{reason} {events} events ({_text(quantity)} units)"
        for reason, (events, quantity) in result.unbilled_totals().items()
    ]
    total = sum(events for events, _ in result.unbilled_totals().values())
    return (
        f"{total} usage events of [{result.period_start}, {result.period_end}) were NOT billed: "
        + "; ".join(parts)
        + " (details: billing.fct_unbilled_usage, docs/pricing.md 'Usage that is not billed')"
    )


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f") if value else "0"
        return text
    if isinstance(value, date):
        return value.isoformat()
    return value


def _money_text(amount: Decimal, currency: str) -> str:
    return format(amount.quantize(Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))), "f")


def result_to_json(result: RatingResult, customer_names: dict[str, str] | None = None) -> dict[str, Any]:
    """The documented JSON document of `usagebill rate --format json`."""
    customers: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for line in result.lines:
        row = {k: _text(v) for k, v in line.items()}
        row["amount_rounded"] = _money_text(line["amount_rounded"], line["currency"])
        if line["tier_breakdown_json"]:
            row["tier_breakdown_json"] = json.loads(line["tier_breakdown_json"])
        row["dimensions_json"] = json.loads(line["dimensions_json"] or "{}")
        customers.setdefault((line["tenant_id"], line["customer_id"]), []).append(row)
    return {
        "period_start": result.period_start.isoformat(),
        "period_end": result.period_end.isoformat(),
        "as_of_date": result.as_of_date.isoformat(),
        "events": {
            "loaded": result.events_loaded,
            "quarantined": result.events_quarantined,
            "quarantine_reasons": result.quarantine_reasons,
        },
        "customers": [
            {
                "tenant_id": tenant,
                "customer_id": cid,
                "lines": rows,
                "totals": [
                    {"currency": c, "amount": _money_text(a, c)}
                    for c, a in result.totals(cid, tenant).items()
                ],
            }
            for (tenant, cid), rows in sorted(customers.items())
        ],
        "totals": [{"currency": c, "amount": _money_text(a, c)} for c, a in result.totals().items()],
        "credit_balances": [{k: _text(v) for k, v in row.items()} for row in result.credit_balances],
        "unbilled": {
            "reasons": [
                {"reason": reason, "events": events, "quantity": _text(quantity)}
                for reason, (events, quantity) in result.unbilled_totals().items()
            ],
            "by_meter": [{k: _text(v) for k, v in row.items()} for row in result.unbilled],
        },
    }


def result_to_table(result: RatingResult) -> str:
    out = [
        f"billing lines of periods starting in [{result.period_start}, {result.period_end}) "
        f"(as of {result.as_of_date}); {result.events_loaded} events, {result.events_quarantined} quarantined"
    ]
    if result.unbilled:
        out.append("WARNING: " + unbilled_warning(result))
    current: tuple[str, str] | None = None
    for line in result.lines:
        if (line["tenant_id"], line["customer_id"]) != current:
            if current is not None:
                out.append(
                    "  total "
                    + ", ".join(
                        f"{_money_text(a, c)} {c}" for c, a in result.totals(current[1], current[0]).items()
                    )
                )
            current = (line["tenant_id"], line["customer_id"])
            out.append(f"\n{current[1]}" + ("" if current[0] == "default" else f" (tenant {current[0]})"))
        dims = "" if line["dimensions_json"] in (None, "{}") else f" {line['dimensions_json']}"
        out.append(
            f"  {line['sequence_in_period']:>3} {line['subscription_id']:<14} {line['period_start']}.."
            f"{line['period_end']} {line['line_type']:<18} {line['charge_id']:<16}{dims:<22} "
            f"qty {_text(line['quantity']):>18}  {_money_text(line['amount_rounded'], line['currency']):>14} "
            f"{line['currency']}"
        )
    if current is not None:
        out.append(
            "  total "
            + ", ".join(f"{_money_text(a, c)} {c}" for c, a in result.totals(current[1], current[0]).items())
        )
    out.append(
        "\nall customers: "
        + (", ".join(f"{_money_text(a, c)} {c}" for c, a in result.totals().items()) or "nothing billed")
    )
    return "\n".join(out)


def main(argv: list[str] | None = None, *, load_usage: UsageLoader | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="usagebill rate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--catalog", required=True, help="catalog directory (YAML)")
    parser.add_argument(
        "--usage",
        action="append",
        default=[],
        help="usage file (CSV, JSON lines, Parquet); repeatable; omit it to rate the fees only",
    )
    parser.add_argument(
        "--period-start", required=True, type=date.fromisoformat, help="YYYY-MM-DD (inclusive)"
    )
    parser.add_argument("--period-end", required=True, type=date.fromisoformat, help="YYYY-MM-DD (exclusive)")
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="rating date (default: period end)"
    )
    parser.add_argument("--format", choices=["json", "table"], default="table")
    parser.add_argument("--keep-dir", default=None, help="keep the temporary warehouse in this directory")
    args = parser.parse_args(argv)
    try:
        result = rate(
            args.catalog,
            args.usage,
            args.period_start,
            args.period_end,
            as_of=args.as_of,
            keep_dir=args.keep_dir,
            progress=lambda m: print(m, file=sys.stderr),
            load_usage=load_usage,
        )
    except RatingError as exc:
        print(f"usagebill rate: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(result_to_json(result), indent=2))
    else:
        print(result_to_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
