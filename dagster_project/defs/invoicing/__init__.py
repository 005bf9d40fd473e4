"""Invoicing area: the issuer and tax-rate configuration (raw layer) and the invoice documents.

Assets
- ["raw", "catalog_issuer"], ["raw", "catalog_tax_rates"]: data/catalog/issuer.yaml and
  tax_rates.yaml (or the shipped examples) validated and written as Parquet; read by the dbt
  sources raw.catalog_issuer / raw.catalog_tax_rates (staging/tax).
- ["reports", "invoice_documents"]: HTML + PDF for every issued invoice and credit/debit note that
  is new or changed (reports/invoices/manifest.json), rendered by a process pool, after
  billing.fct_invoices and billing.fct_credit_notes are built.
"""

from collections.abc import Iterator

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project import flow

ISSUER_KEY = dg.AssetKey(["raw", "catalog_issuer"])
TAX_RATES_KEY = dg.AssetKey(["raw", "catalog_tax_rates"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ISSUER_KEY, group_name=flow.CATALOG, description="The seller printed on invoices (issuer.yaml)."
        ),
        dg.AssetSpec(
            TAX_RATES_KEY, group_name=flow.CATALOG, description="Tax rates by jurisdiction (tax_rates.yaml)."
        ),
    ],
    name="invoicing_tax_config",
)
def invoicing_tax_config(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    from usagebill.invoices.tax_config import write_raw

    written = write_raw()
    for key, name in ((ISSUER_KEY, "catalog_issuer"), (TAX_RATES_KEY, "catalog_tax_rates")):
        yield dg.MaterializeResult(asset_key=key, metadata={"path": str(written[name])})


@dg.asset(
    key=["reports", "invoice_documents"],
    deps=[dg.AssetKey(["billing", "fct_invoices"]), dg.AssetKey(["billing", "fct_credit_notes"])],
    group_name=flow.INVOICE,
    description="Tax-compliant HTML and PDF for every issued invoice and credit/debit note (reports/invoices).",
)
def invoice_documents(context: AssetExecutionContext) -> dg.MaterializeResult:
    from usagebill.invoices.documents import render_all
    from usagebill.paths import reports_dir

    out = reports_dir() / "invoices"
    # new or changed documents only (manifest.json), in a process pool; progress with ETA in the logs
    written = render_all(out, log=context.log.info)
    return dg.MaterializeResult(metadata={"documents_rendered": len(written) // 2, "directory": str(out)})


defs = dg.Definitions(assets=[invoicing_tax_config, invoice_documents])
