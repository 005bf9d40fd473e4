{#- Journal totals = rollup totals. Per tenant, customer, meter, dimensions and day:
    - every rollup's event_count adds up to the journal's number of events;
    - for sum meters, every rollup's quantity adds up to the journal's quantity;
    - for time-weighted gauges, hourly, daily and monthly GB-hours agree.
    Returns the mismatching groups. -#}
{%- set month_key = ['tenant_id', 'customer_id', 'meter_id', 'dimensions_key', 'usage_month'] %}

with

journal as (
    select
        tenant_id,
        customer_id,
        meter_id,
        dimensions_key,
        cast({{ trunc_to('month', 'event_date') }} as date) as usage_month,
        count(*) as event_count,
        sum(quantity) as quantity
    from {{ ref('fct_usage_journal') }}
    group by 1, 2, 3, 4, 5
),

{%- for grain, model, period in [
    ('hourly', 'fct_usage_hourly', 'hour_start'),
    ('daily', 'fct_usage_daily', 'usage_date'),
    ('monthly', 'fct_usage_monthly', 'usage_month'),
] %}

    {{ grain }} as (
        select
            tenant_id,
            customer_id,
            meter_id,
            dimensions_key,
            cast({{ trunc_to('month', period) }} as date) as usage_month,
            max(aggregation) as aggregation,
            sum(event_count) as event_count,
            sum(quantity) as quantity
        from {{ ref(model) }}
        group by 1, 2, 3, 4, 5
    ),
{%- endfor %}

compared as (
    select
        {{ coalesce_columns('journal', 'monthly', month_key) }},
        monthly.aggregation,
        coalesce(journal.event_count, 0) as journal_events,
        coalesce(hourly.event_count, 0) as hourly_events,
        coalesce(daily.event_count, 0) as daily_events,
        coalesce(monthly.event_count, 0) as monthly_events,
        journal.quantity as journal_quantity,
        hourly.quantity as hourly_quantity,
        daily.quantity as daily_quantity,
        monthly.quantity as monthly_quantity
    from journal
    full outer join monthly
        on {{ columns_match('journal', 'monthly', month_key) }}
    left join daily
        on {{ columns_match('monthly', 'daily', month_key) }}
    left join hourly
        on {{ columns_match('monthly', 'hourly', month_key) }}
),

final as (
    select *
    from compared
    where
        journal_events != hourly_events
        or journal_events != daily_events
        or journal_events != monthly_events
        or (aggregation = 'sum' and (
            journal_quantity != hourly_quantity
            or journal_quantity != daily_quantity
            or journal_quantity != monthly_quantity
        ))
        or (aggregation = 'time_weighted_sum' and (
            hourly_quantity != daily_quantity
            or hourly_quantity != monthly_quantity
        ))
)

select * from final
