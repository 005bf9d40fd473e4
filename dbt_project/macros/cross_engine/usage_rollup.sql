{#- Body of the usage rollups (fct_usage_hourly / _daily / _monthly), one grain each:
    'hour' -> hour_start, 'day' -> usage_date, 'month' -> usage_month.

    Grouped by tenant, customer, meter and dimensions_key; quantity uses the meter's aggregation:
      sum -> sum(quantity); count -> number of events; max -> max(quantity);
      unique_count -> distinct values of properties.<unique_property>;
      latest -> quantity of the last event (event_ts, then event_id);
      average -> sum / count (exact decimal division);
      time_weighted_sum -> sum of int_usage__gauge_hours (value x hours held, e.g. GB-hours).
    event_count counts the journal events of the period (a gauge hour can have 0 events).
    Each grain reads the journal itself (unique counts, latest values and averages do not add up
    from smaller periods).

    Incremental (inside is_incremental()): recompute only the periods touched by events that
    ARRIVED in the window [min_date, max_date) - their event days, plus the next day when a gauge
    sample near midnight holds past it - and replace those periods (delete+insert on DuckDB,
    insert_overwrite of the period partition on Spark). -#}
{% macro usage_rollup(grain) -%}
{%- set hold_hours = var('gauge_max_hold_hours', 1) | int -%}
{%- set period_column = {'hour': 'hour_start', 'day': 'usage_date', 'month': 'usage_month'}[grain] -%}
{%- set period_expr = {
    'hour': 'event_hour',
    'day': 'event_date',
    'month': 'cast(' ~ usagebill.trunc_to('month', 'event_date') ~ ' as date)',
}[grain] -%}
{%- set gauge_period_expr = {
    'hour': 'hour_start',
    'day': 'usage_date',
    'month': 'cast(' ~ usagebill.trunc_to('month', 'usage_date') ~ ' as date)',
}[grain] -%}
{#- A rollup row's key: who, what and which period. -#}
{%- set rollup_key = ['tenant_id', 'customer_id', 'meter_id', 'dimensions_key', 'period_start'] -%}

with

journal as (
    select * from {{ ref('fct_usage_journal') }}
),

meters as (
    select * from {{ ref('stg_catalog__meters') }}
),

gauge_hours as (
    select * from {{ ref('int_usage__gauge_hours') }}
),

{% if is_incremental() -%}
window_arrivals as (
    select
        event_date,
        event_ts
    from journal
    where {{ usagebill.arrival_window_filter('arrival_date') }}
),

affected_days as (
    select distinct event_date as usage_date
    from window_arrivals
    union
    select distinct cast({{ usagebill.add_interval('day', 1, 'event_date') }} as date) as usage_date
    from window_arrivals
    where event_ts >= {{ usagebill.add_interval('hour', 24 - hold_hours, 'cast(event_date as timestamp)') }}
),

{% if grain == 'month' -%}
affected_periods as (
    select distinct cast({{ usagebill.trunc_to('month', 'usage_date') }} as date) as usage_month
    from affected_days
),

{% endif -%}
{% endif -%}

scoped_events as (
    select
        journal.*,
        {{ period_expr }} as period_start
    from journal
    {%- if is_incremental() %}
        {%- if grain == 'month' %}
    where {{ period_expr }} in (select affected_periods.usage_month from affected_periods)
        {%- else %}
    where journal.event_date in (select affected_days.usage_date from affected_days)
        {%- endif %}
    {%- endif %}
),

event_rollup as (
    select
        scoped_events.tenant_id,
        scoped_events.customer_id,
        scoped_events.meter_id,
        scoped_events.dimensions_key,
        scoped_events.period_start,
        sum(scoped_events.quantity) as quantity_sum,
        count(*) as event_count,
        max(scoped_events.quantity) as quantity_max,
        count(distinct {{ usagebill.json_property('scoped_events.properties_json', 'meters.unique_property') }})
            filter (where meters.aggregation = 'unique_count') as unique_values,
        {{ usagebill.value_at_max('scoped_events.quantity', ['scoped_events.event_ts', 'scoped_events.event_id']) }}
            filter (where meters.aggregation = 'latest') as quantity_latest
    from scoped_events
    left join meters
        on scoped_events.meter_id = meters.meter_id
    group by 1, 2, 3, 4, 5
),

gauge_rollup as (
    select
        tenant_id,
        customer_id,
        meter_id,
        dimensions_key,
        {{ gauge_period_expr }} as period_start,
        sum(quantity_hours) as quantity_hours
    from gauge_hours
    {%- if is_incremental() %}
        {%- if grain == 'month' %}
    where {{ gauge_period_expr }} in (select affected_periods.usage_month from affected_periods)
        {%- else %}
    where usage_date in (select affected_days.usage_date from affected_days)
        {%- endif %}
    {%- endif %}
    group by 1, 2, 3, 4, 5
),

combined as (
    select
        {{ usagebill.coalesce_columns('event_rollup', 'gauge_rollup', rollup_key) }},
        event_rollup.quantity_sum,
        coalesce(event_rollup.event_count, 0) as event_count,
        event_rollup.quantity_max,
        event_rollup.unique_values,
        event_rollup.quantity_latest,
        gauge_rollup.quantity_hours
    from event_rollup
    full outer join gauge_rollup
        on {{ usagebill.columns_match('event_rollup', 'gauge_rollup', rollup_key) }}
),

final as (
    select
        combined.tenant_id,
        combined.customer_id,
        combined.meter_id,
        {% if grain == 'hour' -%}
        cast(combined.period_start as timestamp) as hour_start,
        cast(combined.period_start as date) as usage_date,
        {%- else -%}
        cast(combined.period_start as date) as {{ period_column }},
        {%- endif %}
        combined.dimensions_key,
        combined.dimensions_key as dimensions_json,
        meters.aggregation,
        cast(case meters.aggregation
            when 'sum' then combined.quantity_sum
            when 'count' then cast(combined.event_count as decimal(38, 12))
            when 'max' then combined.quantity_max
            when 'unique_count' then cast(combined.unique_values as decimal(38, 12))
            when 'latest' then combined.quantity_latest
            when 'average' then {{ usagebill.safe_divide('combined.quantity_sum', 'combined.event_count') }}
            when 'time_weighted_sum' then coalesce(combined.quantity_hours, cast(0 as decimal(38, 12)))
        end as decimal(38, 12)) as quantity,
        cast(combined.event_count as bigint) as event_count
    from combined
    left join meters
        on combined.meter_id = meters.meter_id
)

select * from final
order by {{ period_column }}, tenant_id, customer_id, meter_id, dimensions_key
{%- endmacro %}
