{#- Tax per rate per document (invoices and credit/debit notes): the sum of the line taxes, each
    already rounded once. -#}
{{ config(schema='billing', materialized='table') }}

with issued_lines as (
    select * from {{ ref('fct_issued_lines') }}
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
