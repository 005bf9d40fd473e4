{{ config(schema='analytics') }}

{#- Deferred revenue and unbilled (accrued) revenue per customer, currency and month end
    (see doc revenue_balances). For each invoice line and each month end M (the line counts
    once it is invoiced or once its service has begun):
      billed_to_date     = the line's amount if its invoice was issued before M ends, else 0
      recognized_to_date = what fct_revenue_recognition recognized on days before M ends
      deferred           = for an invoiced line, billed - recognized (a contract liability:
                           billed in advance, service still owed)
      unbilled           = for a line not invoiced yet, what is recognized (a contract asset:
                           served, invoice not issued yet), split into usage (accrued usage: a
                           month's usage billed in arrears on the 1st of the next month) and fees.
    A negative line (a discount) nets against the same balance.
    Example: an annual 1,200 invoiced 2026-02-01 for [2026-02-01, 2027-02-01) leaves
    1,200 - 1,200 x 28 / 365 = 1,107.945205... deferred at the end of February. Month ends up to
    the run's provisional month (int_analytics__as_of). -#}

with

revenue_lines as (
    select
        invoice_line_id,
        tenant_id,
        customer_id,
        currency,
        mrr_category,
        issue_date,
        period_start,
        amount
    from {{ ref('int_analytics__revenue_lines') }}
    where mrr_category in ('recurring', 'usage')
),

recognition as (
    select invoice_line_id, recognition_date, recognized_amount from {{ ref('fct_revenue_recognition') }}
),

as_of as (
    select provisional_month from {{ ref('int_analytics__as_of') }}
),

line_months as (
    select
        invoice_line_id,
        cast({{ trunc_to('month', 'recognition_date') }} as date) as month_start,
        sum(recognized_amount) as recognized_amount
    from recognition
    group by invoice_line_id, {{ trunc_to('month', 'recognition_date') }}
),

line_spans as (
    select
        revenue_lines.*,
        cast({{ trunc_to('month', 'case when revenue_lines.issue_date < revenue_lines.period_start '
            ~ 'then revenue_lines.issue_date else revenue_lines.period_start end') }} as date) as first_month
    from revenue_lines
),

months as (
    {{ month_spine(
        '(select min(line_spans.first_month) from line_spans)',
        '(select ' ~ add_interval('month', 1, 'as_of.provisional_month') ~ ' from as_of)'
    ) }}
),

line_month_ends as (
    select
        line_spans.invoice_line_id,
        line_spans.tenant_id,
        line_spans.customer_id,
        line_spans.currency,
        line_spans.mrr_category,
        months.month_start,
        line_spans.issue_date < {{ add_interval('month', 1, 'months.month_start') }} as is_billed,
        case
            when line_spans.issue_date < {{ add_interval('month', 1, 'months.month_start') }} then line_spans.amount
            else 0
        end as billed_to_date
    from line_spans
    inner join months
        on line_spans.first_month <= months.month_start
),

with_recognized as (
    select
        line_month_ends.*,
        coalesce(sum(line_months.recognized_amount), 0) as recognized_to_date
    from line_month_ends
    left join line_months
        on
            line_month_ends.invoice_line_id = line_months.invoice_line_id
            and line_month_ends.month_start >= line_months.month_start
    group by
        line_month_ends.invoice_line_id,
        line_month_ends.tenant_id,
        line_month_ends.customer_id,
        line_month_ends.currency,
        line_month_ends.mrr_category,
        line_month_ends.month_start,
        line_month_ends.is_billed,
        line_month_ends.billed_to_date
),

per_line as (
    {#- an invoiced line's not-yet-recognized rest is deferred, a line not invoiced yet has its
        recognized part unbilled; a negative line (a discount) nets against the same balance. -#}
    select
        *,
        case when is_billed then billed_to_date - recognized_to_date else 0 end as deferred_revenue,
        case when is_billed then 0 else recognized_to_date end as unbilled_revenue
    from with_recognized
),

final as (
    select
        {{ surrogate_key(['per_line.tenant_id', 'per_line.customer_id', 'per_line.currency', 'per_line.month_start']) }}
            as balance_id,
        per_line.tenant_id,
        per_line.customer_id,
        per_line.currency,
        per_line.month_start,
        cast({{ add_interval('day', -1, add_interval('month', 1, 'per_line.month_start')) }} as date) as month_end_date,
        per_line.month_start = max(as_of.provisional_month) as is_provisional,
        cast(sum(per_line.billed_to_date) as decimal(38, 12)) as billed_to_date,
        cast(sum(per_line.recognized_to_date) as decimal(38, 12)) as recognized_to_date,
        cast(sum(per_line.deferred_revenue) as decimal(38, 12)) as deferred_revenue,
        cast(sum(per_line.unbilled_revenue) as decimal(38, 12)) as unbilled_revenue,
        cast(
            sum(case when per_line.mrr_category = 'usage' then per_line.unbilled_revenue else 0 end)
            as decimal(38, 12)
        ) as unbilled_usage,
        cast(
            sum(case when per_line.mrr_category = 'recurring' then per_line.unbilled_revenue else 0 end)
            as decimal(38, 12)
        ) as unbilled_fees
    from per_line
    cross join as_of
    group by per_line.tenant_id, per_line.customer_id, per_line.currency, per_line.month_start
)

select * from final
