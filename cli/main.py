"""`usagebill` command line (the `usagebill` script, `python -m cli`). Each subcommand lives in the
module that does the work; this file only dispatches, so that importing the CLI stays fast (heavy
libraries load on demand). It sits in the top layer (cli/), so it may name modules of every layer."""

from __future__ import annotations

import importlib
import sys

# subcommand -> ("module:function" taking the argv list, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo-data": ("ingestion.demo_data:main", "generate the deterministic demo dataset (GPU cloud)"),
    "load": ("ingestion.load_command:main", "load landing files into the raw layer (validate, quarantine)"),
    "collector": ("ingestion.collector.cli:main", "run the HTTP usage collector"),
    "keys": ("ingestion.collector.cli:keys_main", "manage collector API keys (keys create --tenant NAME)"),
    "catalog": ("usagebill.catalog.cli:main", "validate / normalize the pricing catalog"),
    "rate": ("cli.rate:main", "rate a usage file against a catalog for a period"),
    "invoices": ("usagebill.invoices.cli:main", "render invoice documents, recompute invoices as of a date"),
    "explain": ("usagebill.invoices.explain:main", "how an invoice line was computed, down to the journal events (explain NUMBER [--line N])"),
    "stripe": ("exports.stripe.cli:main", "export invoices to Stripe, reconcile, poll payment events, run the fake"),
    "marketplace": ("exports.marketplace.run:main", "report usage to AWS / Azure / Google marketplaces, load feeds"),
    "summary": ("usagebill.summary:main", "print the billing summary of the warehouse"),
    "sql": ("usagebill.sql:main", 'query the warehouse read-only: usagebill sql "select ..."'),
    "pricing": ("usagebill.pricing_lab:main", "pricing lab: pricing backtest --candidate DIR --from 2026-05 --to 2026-10"),
    "report": ("usagebill.reports.executive:main", "executive report (HTML + PDF): report --period 2026-Q3"),
}  # fmt: skip


def _usage() -> str:
    lines = ["usage: usagebill <command> [options]", "", "commands:"]
    lines += [f"  {name:<12} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run `usagebill <command> --help` for the options of a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"usagebill: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, function_name = SUBCOMMANDS[name][0].split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    result = function(rest)
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
