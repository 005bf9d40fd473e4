{{ config(schema='analytics') }}

{#- Usage-inclusive MRR per customer, currency and month (see doc mrr). Dense: one row for every
    month from the customer's first revenue month to the run's provisional month
    (int_analytics__as_of), with 0 in months without revenue (so churn and reactivation are
    visible). Months before the provisional month are complete; the provisional month is the
    run-rate invoiced so far (is_provisional = true); later months are not MRR yet. A customer is
    (tenant_id, customer_id): two tenants' customers with the same id never merge. -#}

{%- set customer_keys = ['tenant_id', 'customer_id', 'currency'] %}

with

mrr_lines as (
    select
        tenant_id,
        customer_id,
        currency,
        month_start,
        mrr_category,
        monthly_amount
    from {{ ref('int_analytics__mrr_lines_by_month') }}
),

revenue_lines as (
    select
        tenant_id,
        customer_id,
        currency,
        period_start
    from {{ ref('int_analytics__revenue_lines') }}
    where mrr_category in ('recurring', 'usage')
),

as_of as (
    select provisional_month from {{ ref('int_analytics__as_of') }}
),

fx_rates as (
    select currency, reporting_currency, rate_to_reporting from {{ ref('analytics_fx_rates') }}
),

customer_months as (
    select
        tenant_id,
        customer_id,
        currency,
        month_start,
        sum(case when mrr_category = 'recurring' then monthly_amount else 0 end) as recurring_mrr,
        sum(case when mrr_category = 'usage' then monthly_amount else 0 end) as usage_mrr
    from mrr_lines
    group by 1, 2, 3, 4
),

service_starts as (
    {#- first_full_month: the first calendar month the customer is served from its first day
        (a signup on the 15th is served in full from the next month on). -#}
    select
        tenant_id,
        customer_id,
        currency,
        min(period_start) as service_start_date
    from revenue_lines
    group by 1, 2, 3
),

first_months as (
    select
        customer_months.tenant_id,
        customer_months.customer_id,
        customer_months.currency,
        min(customer_months.month_start) as first_month
    from customer_months
    cross join as_of
    where customer_months.month_start <= as_of.provisional_month
    group by 1, 2, 3
),

months as (
    {{ month_spine(
        '(select min(first_months.first_month) from first_months)',
        '(select ' ~ add_interval('month', 1, 'as_of.provisional_month') ~ ' from as_of)'
    ) }}
),

dense as (
    select
        first_months.tenant_id,
        first_months.customer_id,
        first_months.currency,
        months.month_start,
        months.month_start = as_of.provisional_month as is_provisional
    from first_months
    cross join as_of
    inner join months
        on first_months.first_month <= months.month_start
),

final as (
    select
        {{ surrogate_key(['dense.tenant_id', 'dense.customer_id', 'dense.currency', 'dense.month_start']) }} as mrr_id,
        dense.tenant_id,
        dense.customer_id,
        dense.currency,
        dense.month_start,
        dense.is_provisional,
        cast(coalesce(customer_months.recurring_mrr, 0) as decimal(38, 12)) as recurring_mrr,
        cast(coalesce(customer_months.usage_mrr, 0) as decimal(38, 12)) as usage_mrr,
        cast(coalesce(customer_months.recurring_mrr, 0) + coalesce(customer_months.usage_mrr, 0) as decimal(38, 12))
            as mrr,
        coalesce(customer_months.recurring_mrr, 0) + coalesce(customer_months.usage_mrr, 0) > 0 as is_active,
        cast(service_starts.service_start_date as date) as service_start_date,
        cast(case
            when extract(day from service_starts.service_start_date) = 1
                then {{ trunc_to('month', 'service_starts.service_start_date') }}
            else {{ add_interval('month', 1, trunc_to('month', 'service_starts.service_start_date')) }}
        end as date) as first_full_month,
        fx_rates.reporting_currency,
        fx_rates.rate_to_reporting,
        {{ decimal_multiply(
            'coalesce(customer_months.recurring_mrr, 0) + coalesce(customer_months.usage_mrr, 0)',
            'fx_rates.rate_to_reporting'
        ) }} as mrr_reporting
    from dense
    left join customer_months
        on
            {{ keys_match(customer_keys + ['month_start'], 'dense', 'customer_months') }}
    left join service_starts
        on
            {{ keys_match(customer_keys, 'dense', 'service_starts') }}
    left join fx_rates
        on dense.currency = fx_rates.currency
)

select * from final
