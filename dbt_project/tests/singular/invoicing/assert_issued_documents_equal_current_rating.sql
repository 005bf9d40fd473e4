{{ config(tags=['invoicing']) }}
{#- Reconciliation after a run in credit_note mode: for every closed invoice, what was issued for
    each billing line (the invoice line plus every credit/debit note line) equals what rating says
    today, rounded. Any difference means a correction was not issued. (In adjustment_line mode a
    difference can legitimately wait for the customer's next invoice, so the test is skipped.) -#}

{%- if var('late_usage_mode', 'credit_note') == 'credit_note' %}

    with current_lines as (
        select * from {{ ref('int_invoice_lines_credited') }}
        where is_closed
    ),

    issued as (
        select * from {{ ref('fct_issued_lines') }}
    ),

    issued_sums as (
        select
            source_invoice_id,
            billing_line_id,
            sum(amount) as amount,
            sum(tax_amount) as tax_amount
        from issued
        group by source_invoice_id, billing_line_id
    ),

    final as (
        select
            coalesce(current_lines.invoice_id, issued_sums.source_invoice_id) as invoice_id,
            coalesce(current_lines.billing_line_id, issued_sums.billing_line_id) as billing_line_id,
            current_lines.amount as current_amount,
            issued_sums.amount as issued_amount,
            current_lines.tax_amount as current_tax,
            issued_sums.tax_amount as issued_tax
        from current_lines
        full outer join issued_sums
            on current_lines.invoice_id = issued_sums.source_invoice_id
                and current_lines.billing_line_id = issued_sums.billing_line_id
        where coalesce(current_lines.amount, 0) != coalesce(issued_sums.amount, 0)
            or coalesce(current_lines.tax_amount, 0) != coalesce(issued_sums.tax_amount, 0)
    )

    select * from final

{%- else %}

select 1 as skipped where 1 = 0

{%- endif %}
