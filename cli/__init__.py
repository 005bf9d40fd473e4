"""The command line layer: `usagebill <command>`, `make demo` and `make spark-parity`.

It composes the other layers and is the only package allowed to import all of them
(docs/architecture.md "Layers"):

    usagebill/        the library (catalog, money, rating, invoices, reports); imports none of the others
    ingestion/        collect and load usage and costs; imports usagebill
    exports/          Stripe and marketplaces; imports usagebill
    dagster_project/  orchestration of the flow; imports usagebill, ingestion, exports
    cli/              this package; imports all of them

Modules: main (the `usagebill` dispatcher), rate (`usagebill rate` wired to the landing loader),
demo (`python -m cli.demo`, `make demo`), spark_parity (`make spark-parity`).
"""
