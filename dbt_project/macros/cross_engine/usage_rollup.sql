{#- Body of the usage rollups (fct_usage_hourly / _daily / _monthly), one grain each:
    'hour' -> hour_start, 'day' -> usage_date, 'month' -> usage_month.

    Grouped by tenant, customer, meter and dimensions_key; quantity uses the meter's aggregation:
      sum -> sum(quantity); count -> number of events; max -> max(quantity);
      unique_count -> distinct values of properties.<unique_property>;
      latest -> quantity of the last event (event_ts, then event_id);
      average -> sum / count (exact decimal division);
      time_weighted_sum -> sum of the gauge hours (value x hours held, e.g. GB-hours; macro
      usage_gauge_hours_ctes, the rule of int_usage__gauge_hours).
    event_count counts the journal events of the period (a gauge hour can have 0 events).
    Hours and days read the journal. Months add up the daily rollup for what adds up exactly (sum,
    count, max, latest = the last day's latest, time-weighted sums, event counts) and read the
    journal only for the non-additive kinds (unique_count, average), and only those meters' rows.

    Incremental (inside is_incremental()): recompute only the periods touched by events that
    ARRIVED in the window [min_date, max_date) - their event days, plus the next day when a sample
    near midnight holds past it - and replace those periods (delete+insert on DuckDB,
    insert_overwrite of the period partition on Spark). The affected days are fetched when the
    model runs (macro usage_affected_days) and written into the SQL as literal dates, so the
    engine skips the row groups / partitions of other days (a subquery filter cannot be pruned:
    every daily run scanned the whole history). Work follows the window, not the history. -#}
{% macro usage_rollup(grain) -%}
{%- set hold_hours = var('gauge_max_hold_hours', 1) | int -%}
{%- set period_column = {'hour': 'hour_start', 'day': 'usage_date', 'month': 'usage_month'}[grain] -%}
{%- set period_expr = {
    'hour': 'event_hour',
    'day': 'event_date',
    'month': 'cast(' ~ usagebill.trunc_to('month', 'event_date') ~ ' as date)',
}[grain] -%}
{%- set days = usagebill.usage_affected_days(hold_hours, usagebill.arrival_window_filter('arrival_date')) if is_incremental() else none -%}
{#- A rollup row's key: who, what and which period. -#}
{%- set rollup_key = ['tenant_id', 'customer_id', 'meter_id', 'dimensions_key', 'period_start'] -%}
{%- if grain == 'month' -%}
{{ usagebill.usage_rollup_monthly(days) }}
{%- else -%}

with

journal as (
    select * from {{ ref('fct_usage_journal') }}
    where {{ usagebill.usage_days_filter('event_date', days) }}
),

meters as (
    select * from {{ ref('stg_catalog__meters') }}
),

gauge_journal as (
    {#- Gauge samples of the affected days and of the days before them (a sample holds at most
        gauge_max_hold_hours into the next day). -#}
    select * from {{ ref('fct_usage_journal') }}
    where {{ usagebill.usage_days_filter('event_date', days, days_before=((hold_hours + 23) // 24)) }}
),

{{ usagebill.usage_gauge_hours_ctes('gauge_journal', 'meters', hold_hours) }}

scoped_gauge_hours as (
    select * from gauge_hours
    where {{ usagebill.usage_days_filter('usage_date', days) }}
),

scoped_events as (
    select
        journal.*,
        {{ period_expr }} as period_start
    from journal
),

{{ usagebill.usage_event_rollup_cte('event_rollup', 'scoped_events') }}

gauge_rollup as (
    select
        tenant_id,
        customer_id,
        meter_id,
        dimensions_key,
        {{ 'hour_start' if grain == 'hour' else 'usage_date' }} as period_start,
        sum(quantity_hours) as quantity_hours
    from scoped_gauge_hours
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

{{ usagebill.usage_rollup_final(grain, period_column) }}
{%- endif %}
{%- endmacro %}


{#- CTE `name`: the events of CTE `source` (journal columns + period_start) aggregated per rollup
    key, for every kind of meter (the final CTE picks the column of the meter's aggregation). -#}
{% macro usage_event_rollup_cte(name, source) -%}
{{ name }} as (
    select
        {{ source }}.tenant_id,
        {{ source }}.customer_id,
        {{ source }}.meter_id,
        {{ source }}.dimensions_key,
        {{ source }}.period_start,
        sum({{ source }}.quantity) as quantity_sum,
        count(*) as event_count,
        max({{ source }}.quantity) as quantity_max,
        count(distinct {{ usagebill.json_property(source ~ '.properties_json', 'meters.unique_property') }})
            filter (where meters.aggregation = 'unique_count') as unique_values,
        {{ usagebill.value_at_max(source ~ '.quantity', [source ~ '.event_ts', source ~ '.event_id']) }}
            filter (where meters.aggregation = 'latest') as quantity_latest
    from {{ source }}
    left join meters
        on {{ source }}.meter_id = meters.meter_id
    group by 1, 2, 3, 4, 5
),
{%- endmacro %}


{#- The last CTE of every grain: the quantity by the meter's aggregation, from `combined`
    (period_start, quantity_sum, event_count, quantity_max, unique_values, quantity_latest,
    quantity_hours per rollup key). -#}
{% macro usage_rollup_final(grain, period_column) -%}
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


{#- fct_usage_monthly: the daily rollup added up per month, exact for sum, count, max, latest
    (the value of the month's last day with events: the daily latest is the day's last event's)
    and time-weighted sums (hour pieces add up); unique_count and average do not add up from
    days (a value seen on two days counts once; a day's average is rounded), so those meters are
    recomputed from the journal, reading only their own meters' rows of the affected months. -#}
{% macro usage_rollup_monthly(days) -%}
{%- set rollup_key = ['tenant_id', 'customer_id', 'meter_id', 'dimensions_key', 'period_start'] -%}
{%- set non_additive = usagebill.usage_non_additive_meters() -%}
with

meters as (
    select * from {{ ref('stg_catalog__meters') }}
),

daily as (
    select
        *,
        cast({{ usagebill.trunc_to('month', 'usage_date') }} as date) as period_start
    from {{ ref('fct_usage_daily') }}
    where {{ usagebill.usage_months_filter('usage_date', days) }}
),

journal as (
    select
        *,
        cast({{ usagebill.trunc_to('month', 'event_date') }} as date) as period_start
    from {{ ref('fct_usage_journal') }}
    where
        {{ usagebill.usage_months_filter('event_date', days) }}
        {%- if non_additive | length > 0 %}
        and meter_id in ({% for m in non_additive %}'{{ m }}'{% if not loop.last %}, {% endif %}{% endfor %})
        {%- else %}
        and 1 = 0
        {%- endif %}
),

day_sums as (
    select
        tenant_id,
        customer_id,
        meter_id,
        dimensions_key,
        period_start,
        sum(quantity) as quantity_sum,
        sum(event_count) as event_count,
        max(quantity) as quantity_max,
        {{ usagebill.value_at_max('quantity', ['usage_date']) }} as quantity_latest
    from daily
    group by 1, 2, 3, 4, 5
),

{{ usagebill.usage_event_rollup_cte('non_additive', 'journal') }}

combined as (
    select
        {{ usagebill.coalesce_columns('day_sums', 'non_additive', rollup_key) }},
        coalesce(non_additive.quantity_sum, day_sums.quantity_sum) as quantity_sum,
        coalesce(day_sums.event_count, non_additive.event_count, 0) as event_count,
        day_sums.quantity_max,
        non_additive.unique_values,
        day_sums.quantity_latest,
        day_sums.quantity_sum as quantity_hours
    from day_sums
    full outer join non_additive
        on {{ usagebill.columns_match('day_sums', 'non_additive', rollup_key) }}
),

{{ usagebill.usage_rollup_final('month', 'usage_month') }}
{%- endmacro %}


{#- The meters whose monthly value does not add up from days (unique_count, average), fetched
    when the model runs ([] when parsing). -#}
{% macro usage_non_additive_meters() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select meter_id from " ~ ref('stg_catalog__meters')
        ~ " where aggregation in ('unique_count', 'average') order by meter_id"
    ) -%}
    {{ return(rows.columns[0].values() | map('string') | list) }}
{%- endmacro %}


{#- The event days whose rollups the window's arrivals change, as sorted 'YYYY-MM-DD' texts, fetched
    from the journal when the model runs (the journal is built first): the event days of the events
    that arrived in [min_date, max_date), plus the next day for an event within
    gauge_max_hold_hours of midnight (a gauge sample holds into the next day; a late sample also
    shortens the previous sample's hold, but only after its own event_ts). window_filter: the
    arrival window on column arrival_date. Parsing: []. -#}
{% macro usage_affected_days(hold_hours, window_filter) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        with

        window_arrivals as (
            select
                event_date,
                event_ts
            from {{ ref('fct_usage_journal') }}
            where {{ window_filter }}
        ),

        days as (
            select event_date as usage_date
            from window_arrivals
            union
            select cast({{ usagebill.add_interval('day', 1, 'event_date') }} as date) as usage_date
            from window_arrivals
            where event_ts >= {{ usagebill.add_interval('hour', 24 - hold_hours, 'cast(event_date as timestamp)') }}
        )

        select distinct cast(usage_date as {{ dbt.type_string() }}) as usage_date
        from days
        order by 1
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | map('string') | list) }}
{%- endmacro %}


{#- A filter on a date column for the affected days (none: no filter, a full build): literal
    bounds first (row-group / partition pruning), then the exact days; days_before also takes
    that many days before each affected day (gauge samples held into it). -#}
{% macro usage_days_filter(column, days, days_before=0) -%}
    {%- if days is none -%}
        1 = 1
    {%- elif days | length == 0 -%}
        1 = 0
    {%- else -%}
        {%- set ns = namespace(ranges=[]) -%}
        {%- for d in days -%}
            {%- set first = modules.datetime.date.fromisoformat(d) - modules.datetime.timedelta(days=days_before) -%}
            {%- do ns.ranges.append((first.isoformat(), d)) -%}
        {%- endfor -%}
        ({{ column }} >= cast('{{ ns.ranges[0][0] }}' as date) and {{ column }} <= cast('{{ days[-1] }}' as date)
        {%- if days_before == 0 %}
            and {{ column }} in ({% for d in days %}cast('{{ d }}' as date){% if not loop.last %}, {% endif %}{% endfor %})
        {%- else %}
            and ({% for r in ns.ranges %}({{ column }} >= cast('{{ r[0] }}' as date) and {{ column }} <= cast('{{ r[1] }}' as date)){% if not loop.last %} or {% endif %}{% endfor %})
        {%- endif -%}
        )
    {%- endif -%}
{%- endmacro %}


{#- A filter on a date column for the whole months of the affected days (none: no filter). -#}
{% macro usage_months_filter(column, days) -%}
    {%- if days is none -%}
        1 = 1
    {%- elif days | length == 0 -%}
        1 = 0
    {%- else -%}
        {%- set months = [] -%}
        {%- for d in days if d[:7] not in months -%}
            {%- do months.append(d[:7]) -%}
        {%- endfor -%}
        (
        {%- for m in months %}
            ({{ column }} >= cast('{{ m }}-01' as date) and {{ column }} < cast({{ usagebill.add_interval('month', 1, "cast('" ~ m ~ "-01' as date)") }} as date))
            {%- if not loop.last %} or {% endif %}
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}


{#- Time-weighted quantities of gauge meters (aggregation time_weighted_sum, e.g. GB stored ->
    GB-hours), cut into clock hours, as CTEs ending in `gauge_hours` (tenant_id, customer_id,
    meter_id, dimensions_key, hour_start, usage_date, quantity_hours), from the journal rows in
    CTE `journal_cte` and the meters in `meters_cte`.

    Rule: a sample's value holds from its event_ts until the next sample of the same series
    (tenant, customer, meter, dimensions_key), but at most var('gauge_max_hold_hours', 1) hours
    (samples are hourly; a missing sample does not carry the last value forever). Each held
    interval is cut at hour boundaries; quantity_hours = value * hours held inside that hour.
    Example: 100 GB at 10:00, 200 GB at 10:30, 50 GB at 12:00 ->
    10:00 hour: 100 * 0.5 + 200 * 0.5 = 150 GB-hours; 11:00 hour: 200 * 0.5 = 100;
    12:00 hour: 50 * 1 = 50. Hour pieces add up to days and months.
    A day's hours need only the samples from gauge_max_hold_hours before the day to its end (a
    later next sample does not change the pieces inside the day), so the rollups pass the
    journal rows of the affected days and the day(s) before. -#}
{% macro usage_gauge_hours_ctes(journal_cte, meters_cte, hold_hours) -%}
gauge_samples as (
    select
        {{ journal_cte }}.tenant_id,
        {{ journal_cte }}.customer_id,
        {{ journal_cte }}.meter_id,
        {{ journal_cte }}.dimensions_key,
        {{ journal_cte }}.event_ts,
        {{ journal_cte }}.quantity,
        lead({{ journal_cte }}.event_ts) over (
            partition by {{ journal_cte }}.tenant_id, {{ journal_cte }}.customer_id, {{ journal_cte }}.meter_id, {{ journal_cte }}.dimensions_key
            order by {{ journal_cte }}.event_ts, {{ journal_cte }}.event_id
        ) as next_sample_ts
    from {{ journal_cte }}
    inner join {{ meters_cte }}
        on {{ journal_cte }}.meter_id = {{ meters_cte }}.meter_id
    where {{ meters_cte }}.aggregation = 'time_weighted_sum'
),

gauge_held as (
    select
        tenant_id,
        customer_id,
        meter_id,
        dimensions_key,
        quantity,
        event_ts as held_from,
        case
            when
                next_sample_ts is null
                or next_sample_ts > {{ usagebill.add_interval('hour', hold_hours, 'event_ts') }}
                then {{ usagebill.add_interval('hour', hold_hours, 'event_ts') }}
            else next_sample_ts
        end as held_until
    from gauge_samples
),

gauge_hour_offsets as (
    {%- for n in range(hold_hours + 1) %}
        select {{ n }} as hour_offset
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

gauge_pieces as (
    select
        gauge_held.tenant_id,
        gauge_held.customer_id,
        gauge_held.meter_id,
        gauge_held.dimensions_key,
        gauge_held.quantity,
        gauge_held.held_from,
        gauge_held.held_until,
        {{ usagebill.add_interval('hour', 'gauge_hour_offsets.hour_offset', usagebill.trunc_to('hour', 'gauge_held.held_from')) }} as hour_start
    from gauge_held
    cross join gauge_hour_offsets
),

gauge_clipped as (
    select
        gauge_pieces.*,
        case
            when held_until < {{ usagebill.add_interval('hour', 1, 'hour_start') }} then held_until
            else {{ usagebill.add_interval('hour', 1, 'hour_start') }}
        end as piece_end,
        case when held_from > hour_start then held_from else hour_start end as piece_start
    from gauge_pieces
    where
        hour_start < held_until
        and held_from < held_until
),

gauge_hours as (
    select
        tenant_id,
        customer_id,
        meter_id,
        dimensions_key,
        hour_start,
        cast(hour_start as date) as usage_date,
        {{ usagebill.safe_divide(
            'cast(quantity as decimal(38, 12)) * cast(' ~ usagebill.epoch_micros('piece_end') ~ ' - ' ~ usagebill.epoch_micros('piece_start') ~ ' as decimal(20, 0))',
            '3600000000'
        ) }} as quantity_hours
    from gauge_clipped
),
{%- endmacro %}


{#- Which history the usage data tests check (docs/events.md, "Which run checks what"):
    - a daily run (vars min_date and max_date given, no --full-refresh): the arrival window only,
      so the run's work follows the window (usage_data_tests_window);
    - --full-refresh, a run without a window, or --vars '{"usage_data_tests": "full"}' (the
      Dagster partition of a month's last day passes it: the month close checks everything):
      all history. -#}
{% macro usage_data_tests_full_history() -%}
    {{ return(
        flags.FULL_REFRESH
        or var('usage_data_tests', 'window') == 'full'
        or var('min_date', none) is none
        or var('max_date', none) is none
    ) }}
{%- endmacro %}


{#- The arrival-window filter of the usage data tests on `column` (true for all history). -#}
{% macro usage_data_tests_window(column) -%}
    {%- if usagebill.usage_data_tests_full_history() -%}
        1 = 1
    {%- else -%}
        ({{ column }} >= cast('{{ var("min_date") }}' as date) and {{ column }} < cast('{{ var("max_date") }}' as date))
    {%- endif -%}
{%- endmacro %}


{#- The event days the usage data tests check: none (all) or the days the window's arrivals
    touched, as the rollups recompute them (usage_affected_days). -#}
{% macro usage_data_tests_days() -%}
    {%- if usagebill.usage_data_tests_full_history() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(usagebill.usage_affected_days(
        var('gauge_max_hold_hours', 1) | int, usagebill.usage_data_tests_window('arrival_date')
    )) }}
{%- endmacro %}


{#- Grain test of the usage models that follows the run like the singular usage tests (macro
    usage_data_tests_full_history): no two rows share `combination_of_columns`. On a daily run it
    checks only what the run could have changed:
    - scope 'arrival' (the journal, scope_column arrival_date): the keys of the rows that arrived
      in the window, each against ALL rows (a duplicate may sit in an earlier arrival day);
    - scope 'days' / 'months' (the rollups, scope_column = the period in the key): the affected
      days / their months (a key holds its period, so a duplicate sits in the same period).
    Otherwise (full refresh, no window, usage_data_tests full) the whole table. -#}
{% test usage_unique_key(model, combination_of_columns, scope_column, scope) -%}
    -- depends_on: {{ ref('fct_usage_journal') }}
    {%- set columns = combination_of_columns | join(', ') %}
    {%- set full_history = usagebill.usage_data_tests_full_history() %}
    {%- if scope == 'arrival' and not full_history %}
    with

    window_keys as (
        select distinct {{ columns }}
        from {{ model }}
        where {{ usagebill.usage_data_tests_window(scope_column) }}
    ),

    final as (
        select
            {% for c in combination_of_columns %}scoped.{{ c }}, {% endfor %}
            count(*) as occurrences
        from {{ model }} as scoped
        inner join window_keys
            on {{ usagebill.columns_match('scoped', 'window_keys', combination_of_columns) }}
        group by {% for c in combination_of_columns %}scoped.{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
        having count(*) > 1
    )

    select * from final
    {%- else %}
        {%- set days = none if full_history else usagebill.usage_data_tests_days() %}
    select
        {{ columns }},
        count(*) as occurrences
    from {{ model }}
    where {{ usagebill.usage_months_filter(scope_column, days) if scope == 'months' else usagebill.usage_days_filter(scope_column, days) }}
    group by {{ columns }}
    having count(*) > 1
    {%- endif %}
{%- endtest %}
