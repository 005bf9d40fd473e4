{{ config(schema='billing', materialized='table') }}

with issued_lines as (
    select * from {{ ref('fct_issued_lines') }}
    where document_type = 'invoice'
        -- prepaid credits pay the invoice after tax; they are not charge lines (fct_invoices.credits_applied)
        and line_type != 'credit_applied'
),

final as (
    select
        issued_line_id as invoice_line_id,
        document_id as invoice_id,
        document_number as invoice_number,
        line_number,
        billing_line_id,
        source_invoice_id,
        tenant_id,
        customer_id,
        subscription_id,
        charge_id,
        line_type,
        description,
        quantity,
        included_quantity,
        unit_price,
        amount,
        {{ to_minor_units('amount', 'minor_unit') }} as amount_minor,
        tax_rate_id,
        tax_name,
        tax_rate,
        is_tax_inclusive,
        tax_amount,
        net_amount,
        gross_amount,
        currency,
        period_start,
        period_end,
        reason
    from issued_lines
)

select * from final
