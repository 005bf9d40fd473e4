"""Invoices: period close, tax, numbering, credit/debit notes, recompute, documents (docs/invoices.md)."""
