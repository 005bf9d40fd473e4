{#- Journal totals = rollup totals, per tenant, customer, meter, dimensions and month:
    - the hourly and daily event_count add up to the journal's number of events, and the
      monthly event_count to the daily one (so to the journal's);
    - for sum meters, hourly, daily and monthly quantities add up to the journal's quantity;
    - for time-weighted gauges, hourly, daily and monthly GB-hours agree.
    A daily run checks the event days its window's arrivals touched (journal, hourly, daily) and
    their whole months (daily vs monthly): its work follows the window. A full refresh, a run
    without a window or --vars '{"usage_data_tests": "full"}' checks all history (macro
    usage_data_tests_days). Returns the mismatching groups. -#}
{%- set days = usage_data_tests_days() %}
{%- set month_key = ['tenant_id', 'customer_id', 'meter_id', 'dimensions_key', 'usage_month'] %}
{%- set sides = [
    ('journal', 'fct_usage_journal', 'event_date', usage_days_filter('event_date', days)),
    ('hourly', 'fct_usage_hourly', 'usage_date', usage_days_filter('usage_date', days)),
    ('daily', 'fct_usage_daily', 'usage_date', usage_days_filter('usage_date', days)),
    ('month_daily', 'fct_usage_daily', 'usage_date', usage_months_filter('usage_date', days)),
    ('monthly', 'fct_usage_monthly', 'usage_month', usage_months_filter('usage_month', days)),
] %}

with

{%- for side, model, day_column, scope in sides %}

    {{ side }} as (
        select
            tenant_id,
            customer_id,
            meter_id,
            dimensions_key,
            cast({{ trunc_to('month', day_column) }} as date) as usage_month,
            '{{ side }}' as side,
            {{ 'cast(null as ' ~ dbt.type_string() ~ ')' if side == 'journal' else 'max(aggregation)' }} as aggregation,
            {{ 'count(*)' if side == 'journal' else 'sum(event_count)' }} as event_count,
            sum(quantity) as quantity
        from {{ ref(model) }}
        where {{ scope }}
        group by 1, 2, 3, 4, 5
    ),
{%- endfor %}

sides as (
    {%- for side, model, day_column, scope in sides %}
        select * from {{ side }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

compared as (
    select
        {{ month_key | join(', ') }},
        max(aggregation) as aggregation,
        {%- for side, model, day_column, scope in sides %}
            sum(case when side = '{{ side }}' then event_count else 0 end) as {{ side }}_events,
            sum(case when side = '{{ side }}' then quantity end) as {{ side }}_quantity{{ ',' if not loop.last }}
        {%- endfor %}
    from sides
    group by {{ month_key | join(', ') }}
),

final as (
    select *
    from compared
    where
        journal_events != hourly_events
        or journal_events != daily_events
        or monthly_events != month_daily_events
        or (aggregation = 'sum' and (
            journal_quantity != hourly_quantity
            or journal_quantity != daily_quantity
            or monthly_quantity != month_daily_quantity
        ))
        or (aggregation = 'time_weighted_sum' and (
            hourly_quantity != daily_quantity
            or monthly_quantity != month_daily_quantity
        ))
)

select * from final
