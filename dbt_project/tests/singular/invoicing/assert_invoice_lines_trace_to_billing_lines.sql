{{ config(tags=['invoicing']) }}
{#- Traceability: every issued line (invoice, adjustment or note line) names the billing line it
    comes from. That billing line still exists in billing.fct_billing_lines for the same customer
    and currency, unless rating no longer produces it, in which case the issued amounts for it
    must have been fully reversed by a credit note. A prepaid credit line (credit_applied) traces
    to the credit burn of its invoice (int_invoice_lines_credited). Returns the lines that do not
    trace back. -#}

with issued as (
    select * from {{ ref('fct_issued_lines') }}
),

billing_lines as (
    select billing_line_id, customer_id, currency from {{ ref('fct_billing_lines') }}
    union all
    select billing_line_id, customer_id, currency from {{ ref('int_invoice_lines_credited') }}
    where line_type = 'credit_applied'
),

per_billing_line as (
    select
        source_invoice_id,
        billing_line_id,
        customer_id,
        currency,
        sum(amount) as issued_amount
    from issued
    group by source_invoice_id, billing_line_id, customer_id, currency
),

final as (
    select
        per_billing_line.source_invoice_id,
        per_billing_line.billing_line_id,
        per_billing_line.customer_id,
        per_billing_line.currency,
        per_billing_line.issued_amount
    from per_billing_line
    left join billing_lines
        on {{ columns_match('per_billing_line', 'billing_lines', ['billing_line_id', 'customer_id', 'currency']) }}
    where per_billing_line.billing_line_id is null
        or (billing_lines.billing_line_id is null and per_billing_line.issued_amount != 0)
)

select * from final
