"""Pricing catalog YAML -> raw layer, as a Dagster asset.

Asset ``["raw", "catalog"]`` (group ``raw``, unpartitioned): validates every file of
USAGEBILL_CATALOG_DIR (usagebill/catalog) and writes the normalized tables to
USAGEBILL_RAW_DIR/catalog/*.parquet (meters, meter_filters, plans, plan_versions, plan_charges,
charge_tiers, customers, subscriptions, discounts, credit_grants, commitments, contract_prices,
currencies). The dbt sources `raw.catalog_*` map to this asset (meta.dagster.asset_key), so every
staging.stg_catalog__* model and the rating models depend on it. When the catalog does not validate
the run fails with the list of problems (file: path: what is wrong) and nothing is written, so
nothing is billed from an invalid catalog.
"""

import dagster as dg

from dagster_project import flow
from usagebill import paths

CATALOG = dg.AssetKey(["raw", "catalog"])


@dg.asset(
    key=CATALOG,
    group_name=flow.CATALOG,
    kinds={"python", "parquet"},
    description="The validated, normalized pricing catalog (raw/catalog/*.parquet), one file per table.",
)
def raw_catalog(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from usagebill.catalog import CatalogError, load_catalog

    catalog_dir = paths.catalog_dir()
    try:
        counts = load_catalog(catalog_dir, paths.raw_dir())
    except CatalogError as exc:
        raise dg.Failure(description=str(exc), metadata={"catalog_dir": str(catalog_dir)}) from exc
    context.log.info(f"catalog {catalog_dir} loaded: {counts}")
    return dg.MaterializeResult(
        metadata={"catalog_dir": str(catalog_dir), **{f"rows_{name}": n for name, n in counts.items()}}
    )


defs = dg.Definitions(assets=[raw_catalog])
