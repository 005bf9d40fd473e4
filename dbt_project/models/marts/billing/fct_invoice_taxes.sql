{#- Tax per rate per document (invoices and credit/debit notes): taxable_amount = the rounded
    taxable lines of the rate (after discounts); tax_amount = round(taxable_amount x rate) for an
    invoice (the line shares add up to it, int_invoice_lines_taxed); for a note, the difference
    between the corrected and the issued per-rate tax. Prepaid credits are not taxable and have no
    rate: they are left out. -#}
{{ config(schema='billing', materialized='table') }}

with issued_lines as (
    select * from {{ ref('fct_issued_lines') }}
    where line_type != 'credit_applied'
),

final as (
    select
        document_id,
        document_type,
        document_number,
        tax_rate_id,
        max(tax_name) as tax_name,
        max(tax_rate) as tax_rate,
        bool_or(is_tax_inclusive) as is_tax_inclusive,
        bool_or(is_reverse_charge) as is_reverse_charge,
        max(tax_note) as tax_note,
        currency,
        cast(sum(net_amount) as decimal(38, 12)) as taxable_amount,
        cast(sum(tax_amount) as decimal(38, 12)) as tax_amount
    from issued_lines
    group by document_id, document_type, document_number, tax_rate_id, currency
)

select * from final
