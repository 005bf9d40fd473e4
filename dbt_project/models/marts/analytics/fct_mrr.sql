{{ config(schema='analytics') }}

{#- Usage-inclusive MRR per customer, currency and month (see doc mrr). Dense: one row for every
    month from the customer's first revenue month to the latest billed month in the data,
    with 0 in months without revenue (so churn and reactivation are visible). -#}

with

mrr_lines as (
    select * from {{ ref('int_analytics__mrr_lines_by_month') }}
),

revenue_lines as (
    select * from {{ ref('int_analytics__revenue_lines') }}
),

fx_rates as (
    select * from {{ ref('analytics_fx_rates') }}
),

customer_months as (
    select
        customer_id,
        currency,
        month_start,
        sum(case when mrr_category = 'recurring' then monthly_amount else 0 end) as recurring_mrr,
        sum(case when mrr_category = 'usage' then monthly_amount else 0 end) as usage_mrr
    from mrr_lines
    group by 1, 2, 3
),

first_months as (
    select
        customer_id,
        currency,
        min(month_start) as first_month
    from customer_months
    group by 1, 2
),

bounds as (
    {#- Up to the latest billed month: an annual fee paid in advance does not stretch the
        series into the future. -#}
    select
        (select min(customer_months.month_start) from customer_months) as first_month,
        max(cast({{ trunc_to('month', 'period_start') }} as date)) as last_month
    from revenue_lines
    where mrr_category in ('recurring', 'usage')
),

months as (
    {{ month_spine(
        '(select bounds.first_month from bounds)',
        '(select ' ~ add_interval('month', 1, 'bounds.last_month') ~ ' from bounds)'
    ) }}
),

dense as (
    select
        first_months.customer_id,
        first_months.currency,
        months.month_start
    from first_months
    inner join months
        on first_months.first_month <= months.month_start
),

final as (
    select
        {{ surrogate_key(['dense.customer_id', 'dense.currency', 'dense.month_start']) }} as mrr_id,
        dense.customer_id,
        dense.currency,
        dense.month_start,
        cast(coalesce(customer_months.recurring_mrr, 0) as decimal(38, 12)) as recurring_mrr,
        cast(coalesce(customer_months.usage_mrr, 0) as decimal(38, 12)) as usage_mrr,
        cast(coalesce(customer_months.recurring_mrr, 0) + coalesce(customer_months.usage_mrr, 0) as decimal(38, 12))
            as mrr,
        coalesce(customer_months.recurring_mrr, 0) + coalesce(customer_months.usage_mrr, 0) > 0 as is_active,
        fx_rates.reporting_currency,
        fx_rates.rate_to_reporting,
        {{ decimal_multiply(
            'coalesce(customer_months.recurring_mrr, 0) + coalesce(customer_months.usage_mrr, 0)',
            'fx_rates.rate_to_reporting'
        ) }} as mrr_reporting
    from dense
    left join customer_months
        on
            dense.customer_id = customer_months.customer_id
            and dense.currency = customer_months.currency
            and dense.month_start = customer_months.month_start
    left join fx_rates
        on dense.currency = fx_rates.currency
)

select * from final
