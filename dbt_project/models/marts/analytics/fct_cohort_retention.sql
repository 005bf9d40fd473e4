{{ config(schema='analytics') }}

{#- Logo and net revenue retention by signup-month cohort (see doc cohort_retention).
    cohort_month = month of the customer's created_at (catalog), or of its first revenue when the
    catalog has no date. For each month since signup (0 = the signup month):
    logo_retention = customers with MRR > 0 / customers in the cohort;
    net_revenue_retention = cohort MRR (reporting currency) / the cohort's starting MRR, where
    each customer's starting MRR is its MRR in its first FULL month (a signup on the 15th starts
    from the next month: its half month is not the base); null before every customer of the
    cohort has had its first full month (nrr_base_month). Complete months only. -#}

{%- set customer_keys = ['tenant_id', 'customer_id'] %}

with

customers as (
    select tenant_id, customer_id, created_at from {{ ref('stg_catalog__customers') }}
),

mrr as (
    select
        tenant_id,
        customer_id,
        month_start,
        is_provisional,
        first_full_month,
        mrr_reporting
    from {{ ref('fct_mrr') }}
),

customer_mrr as (
    select
        tenant_id,
        customer_id,
        month_start,
        sum(mrr_reporting) as mrr_reporting,
        sum(case when month_start = first_full_month then mrr_reporting else 0 end) as base_mrr_reporting,
        min(first_full_month) as first_full_month
    from mrr
    where not is_provisional
    group by 1, 2, 3
),

first_revenue as (
    select
        tenant_id,
        customer_id,
        min(month_start) as first_month
    from customer_mrr
    group by 1, 2
),

cohorts as (
    select
        coalesce(customers.tenant_id, first_revenue.tenant_id) as tenant_id,
        coalesce(customers.customer_id, first_revenue.customer_id) as customer_id,
        coalesce(
            cast({{ trunc_to('month', 'customers.created_at') }} as date),
            first_revenue.first_month
        ) as cohort_month
    from customers
    full outer join first_revenue
        on
            {{ keys_match(customer_keys, 'customers', 'first_revenue') }}
),

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_customers
    from cohorts
    group by 1
),

bounds as (
    select max(month_start) as last_month from customer_mrr
),

months as (
    {{ month_spine(
        '(select min(cohorts.cohort_month) from cohorts)',
        '(select ' ~ add_interval('month', 1, 'bounds.last_month') ~ ' from bounds)'
    ) }}
),

cohort_months as (
    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_customers,
        months.month_start
    from cohort_sizes
    inner join months
        on cohort_sizes.cohort_month <= months.month_start
),

activity as (
    select
        cohorts.cohort_month,
        customer_mrr.month_start,
        count(case when customer_mrr.mrr_reporting > 0 then 1 end) as active_customers,
        sum(customer_mrr.mrr_reporting) as cohort_mrr_reporting
    from cohorts
    inner join customer_mrr
        on
            {{ keys_match(customer_keys, 'cohorts', 'customer_mrr') }}
    group by 1, 2
),

cohort_bases as (
    select
        cohorts.cohort_month,
        sum(customer_mrr.base_mrr_reporting) as starting_mrr_reporting,
        max(customer_mrr.first_full_month) as nrr_base_month
    from cohorts
    inner join customer_mrr
        on
            {{ keys_match(customer_keys, 'cohorts', 'customer_mrr') }}
    group by 1
),

joined as (
    select
        cohort_months.cohort_month,
        cohort_months.month_start,
        cast({{ months_between_starts('cohort_months.cohort_month', 'cohort_months.month_start') }} as integer)
            as months_since_signup,
        cohort_months.cohort_customers,
        coalesce(activity.active_customers, 0) as active_customers,
        cast(coalesce(activity.cohort_mrr_reporting, 0) as decimal(38, 12)) as cohort_mrr_reporting
    from cohort_months
    left join activity
        on
            {{ keys_match(['cohort_month', 'month_start'], 'cohort_months', 'activity') }}
),

with_base as (
    select
        joined.*,
        cohort_bases.nrr_base_month,
        case
            when joined.month_start >= cohort_bases.nrr_base_month then cohort_bases.starting_mrr_reporting
        end as starting_mrr_reporting
    from joined
    left join cohort_bases
        on joined.cohort_month = cohort_bases.cohort_month
),

final as (
    select
        cohort_month,
        month_start,
        months_since_signup,
        cohort_customers,
        active_customers,
        {{ safe_divide('active_customers', 'cohort_customers') }} as logo_retention,
        cohort_mrr_reporting,
        nrr_base_month,
        cast(starting_mrr_reporting as decimal(38, 12)) as starting_mrr_reporting,
        {{ safe_divide('cohort_mrr_reporting', 'starting_mrr_reporting') }} as net_revenue_retention
    from with_base
)

select * from final
