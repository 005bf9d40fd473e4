{{ config(tags=['invoicing']) }}
{#- Every invoice's subtotal, tax and total are the sums of its rounded lines, total = subtotal + tax,
    and total_minor is the total in minor units. Returns the invoices that break it. -#}

with invoices as (
    select * from {{ ref('fct_invoices') }}
),

lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

line_sums as (
    select
        invoice_id,
        sum(net_amount) as net_sum,
        sum(tax_amount) as tax_sum,
        sum(gross_amount) as gross_sum,
        sum(amount_minor) as amount_minor_sum,
        sum(case when is_tax_inclusive then amount_minor else 0 end) as inclusive_minor_sum
    from lines
    group by invoice_id
),

final as (
    select
        invoices.invoice_id,
        invoices.invoice_number,
        invoices.subtotal,
        line_sums.net_sum,
        invoices.tax_amount,
        line_sums.tax_sum,
        invoices.total,
        line_sums.gross_sum
    from invoices
    left join line_sums on invoices.invoice_id = line_sums.invoice_id
    where line_sums.invoice_id is null
        or invoices.subtotal != line_sums.net_sum
        or invoices.tax_amount != line_sums.tax_sum
        or invoices.total != line_sums.gross_sum
        or invoices.total != invoices.subtotal + invoices.tax_amount
        or invoices.total_minor != invoices.subtotal_minor + invoices.tax_amount_minor
)

select * from final
