{{ config(schema='analytics') }}

{#- Company MRR per month in the reporting currency, with its movements and month-over-month /
    year-over-year growth: growth = (MRR - MRR of the earlier month) / MRR of the earlier month.
    Complete months, plus the provisional month of fct_mrr (is_provisional = true) as a run-rate
    with no movements and no growth figures (its usage is not billed yet). -#}

with

movements as (
    select
        month_start,
        reporting_currency,
        movement_category,
        mrr_change_reporting
    from {{ ref('fct_mrr_movements') }}
),

mrr as (
    select
        month_start,
        reporting_currency,
        is_provisional,
        is_active,
        mrr_reporting
    from {{ ref('fct_mrr') }}
),

monthly as (
    select
        mrr.month_start,
        mrr.reporting_currency,
        mrr.is_provisional,
        sum(mrr.mrr_reporting) as mrr_reporting,
        count(case when mrr.is_active then 1 end) as active_customers
    from mrr
    group by 1, 2, 3
),

monthly_movements as (
    select
        month_start,
        reporting_currency,
        {%- for category in ['new', 'expansion', 'contraction', 'churn', 'reactivation'] %}
            sum(case when movement_category = '{{ category }}' then mrr_change_reporting else 0 end)
                as {{ category }}_mrr_reporting,
        {%- endfor %}
        sum(mrr_change_reporting) as mrr_change_reporting
    from movements
    group by 1, 2
),

with_history as (
    select
        monthly.month_start,
        monthly.reporting_currency,
        monthly.is_provisional,
        monthly.active_customers,
        cast(monthly.mrr_reporting as decimal(38, 12)) as mrr_reporting,
        cast(lag(monthly.mrr_reporting) over (
            partition by monthly.reporting_currency order by monthly.month_start
        ) as decimal(38, 12)) as previous_mrr_reporting,
        cast(lag(monthly.mrr_reporting, 12) over (
            partition by monthly.reporting_currency order by monthly.month_start
        ) as decimal(38, 12)) as mrr_reporting_12_months_ago,
        {%- for category in ['new', 'expansion', 'contraction', 'churn', 'reactivation'] %}
            cast(monthly_movements.{{ category }}_mrr_reporting as decimal(38, 12)) as {{ category }}_mrr_reporting,
        {%- endfor %}
        cast(monthly_movements.mrr_change_reporting as decimal(38, 12)) as mrr_change_reporting
    from monthly
    left join monthly_movements
        on
            {{ keys_match(['month_start', 'reporting_currency'], 'monthly', 'monthly_movements') }}
),

final as (
    select
        *,
        cast(mrr_reporting * 12 as decimal(38, 12)) as arr_reporting,
        case
            when not is_provisional
                then {{ safe_divide('mrr_reporting - previous_mrr_reporting', 'previous_mrr_reporting') }}
        end as mom_growth,
        case
            when not is_provisional
                then {{ safe_divide('mrr_reporting - mrr_reporting_12_months_ago', 'mrr_reporting_12_months_ago') }}
        end as yoy_growth
    from with_history
)

select * from final
