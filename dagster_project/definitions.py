"""usagebill's single Dagster entry point: merges the `defs` of every area under defs/.

`make dev` serves these in the Dagster UI; tests load them with `load_definitions()`.
"""

from __future__ import annotations

import importlib
import warnings

import dagster as dg

# Ours to silence: we choose single-run backfills deliberately (one dbt invocation per range) and
# accept that the parameter is beta in Dagster 1.13.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*include_sources.*")

# One area per folder under dagster_project/defs/, in the order of the flow.
AREAS = (
    "catalog",  # pricing catalog YAML -> raw/catalog (validated)
    "ingestion",  # landing files -> raw/usage_events, quarantine, cloud costs
    "sources",  # SQL, datastore and infrastructure measurement
    "quality",  # Great Expectations checks on landed usage (blocking)
    "dbt",  # staging -> journal -> rollups -> rating -> invoices -> analytics
    "invoicing",  # invoice documents (HTML/PDF)
    "stripe",  # invoices to Stripe, payment events back
    "marketplace",  # usage to AWS / Azure / Google marketplaces
    "reports",  # the executive report (quarterly) and the pricing lab
    "jobs",  # the daily billing job and its schedule
)


def load_definitions() -> dg.Definitions:
    area_defs = [importlib.import_module(f"dagster_project.defs.{area}").defs for area in AREAS]
    return dg.Definitions.merge(*area_defs)


defs = load_definitions()
