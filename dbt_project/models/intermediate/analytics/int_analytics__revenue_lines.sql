{{ config(materialized='view', schema='intermediate') }}

{#- Invoice lines with their customer and subscription, classified for MRR:
    - usage: line_type containing 'usage' or 'overage', and 'adjustment' (late usage billed as an
      adjustment on its original service period);
    - excluded: tax, prepaid-credit burn-down (a means of payment, the usage it pays is revenue),
      (credit_applied), one-off / setup fees (not recurring);
    - recurring: everything else (recurring_fee, proration, trial_credit, discounts, minimum
      commitments / true-ups): recurring revenue, including its negative adjustments.
    service_months: how many months the line's service period [period_start, period_end) spans
    (1 for a monthly fee or usage, 12 for an annual fee; at least 1); MRR spreads the line over
    them (annual / 12). -#}

with

invoice_lines as (
    select
        invoice_line_id,
        invoice_id,
        currency,
        line_type,
        period_start,
        period_end,
        amount
    from {{ ref('fct_invoice_lines') }}
),

invoices as (
    select
        invoice_id,
        tenant_id,
        customer_id,
        subscription_id,
        issue_date
    from {{ ref('fct_invoices') }}
),

joined as (
    select
        invoice_lines.invoice_line_id,
        invoice_lines.invoice_id,
        invoices.tenant_id,
        invoices.customer_id,
        invoices.subscription_id,
        cast(invoices.issue_date as date) as issue_date,
        invoice_lines.currency,
        invoice_lines.line_type,
        cast(invoice_lines.period_start as date) as period_start,
        cast(invoice_lines.period_end as date) as period_end,
        cast(invoice_lines.amount as decimal(38, 12)) as amount
    from invoice_lines
    inner join invoices
        on invoice_lines.invoice_id = invoices.invoice_id
),

classified as (
    select
        *,
        case
            when
                lower(line_type) like '%usage%'
                or lower(line_type) like '%overage%'
                or lower(line_type) = 'adjustment'
                then 'usage'
            when
                lower(line_type) like '%tax%'
                or lower(line_type) in ('prepaid_credit', 'credit_grant', 'credit_burn', 'credit_applied')
                or lower(line_type) like 'one_off%'
                or lower(line_type) like 'one_time%'
                or lower(line_type) like 'setup%'
                then 'excluded'
            else 'recurring'
        end as mrr_category,
        {{ months_between_starts(trunc_to('month', 'period_start'), trunc_to('month', 'period_end')) }}
        - case when extract(day from period_end) < extract(day from period_start) then 1 else 0 end
            as calendar_months
    from joined
),

final as (
    select
        invoice_line_id,
        invoice_id,
        tenant_id,
        customer_id,
        subscription_id,
        issue_date,
        currency,
        line_type,
        mrr_category,
        period_start,
        period_end,
        amount,
        cast(case when calendar_months < 1 then 1 else calendar_months end as integer) as service_months
    from classified
)

select * from final
