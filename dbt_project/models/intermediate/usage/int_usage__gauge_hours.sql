{{ config(materialized='view', schema='intermediate') }}

{#- Time-weighted quantities of gauge meters (aggregation time_weighted_sum, e.g. GB stored ->
    GB-hours), cut into clock hours.

    Rule: a sample's value holds from its event_ts until the next sample of the same series
    (tenant, customer, meter, dimensions_key), but at most var('gauge_max_hold_hours', 1) hours
    (samples are hourly; a missing sample does not carry the last value forever). Each held
    interval is cut at hour boundaries; quantity_hours = value * hours held inside that hour.
    Example: 100 GB at 10:00, 200 GB at 10:30, 50 GB at 12:00 ->
    10:00 hour: 100 * 0.5 + 200 * 0.5 = 150 GB-hours; 11:00 hour: 200 * 0.5 = 100;
    12:00 hour: 50 * 1 = 50. Hour pieces add up to days and months. -#}

{%- set hold_hours = var('gauge_max_hold_hours', 1) | int -%}

with

journal as (
    select * from {{ ref('fct_usage_journal') }}
),

meters as (
    select * from {{ ref('stg_catalog__meters') }}
),

samples as (
    select
        journal.tenant_id,
        journal.customer_id,
        journal.meter_id,
        journal.dimensions_key,
        journal.event_ts,
        journal.quantity,
        lead(journal.event_ts) over (
            partition by journal.tenant_id, journal.customer_id, journal.meter_id, journal.dimensions_key
            order by journal.event_ts, journal.event_id
        ) as next_sample_ts
    from journal
    inner join meters
        on journal.meter_id = meters.meter_id
    where meters.aggregation = 'time_weighted_sum'
),

held as (
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
                or next_sample_ts > {{ add_interval('hour', hold_hours, 'event_ts') }}
                then {{ add_interval('hour', hold_hours, 'event_ts') }}
            else next_sample_ts
        end as held_until
    from samples
),

hour_offsets as (
    {%- for n in range(hold_hours + 1) %}
        select {{ n }} as hour_offset
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

pieces as (
    select
        held.tenant_id,
        held.customer_id,
        held.meter_id,
        held.dimensions_key,
        held.quantity,
        held.held_from,
        held.held_until,
        {{ add_interval('hour', 'hour_offsets.hour_offset', trunc_to('hour', 'held.held_from')) }} as hour_start
    from held
    cross join hour_offsets
),

clipped as (
    select
        pieces.*,
        case
            when held_until < {{ add_interval('hour', 1, 'hour_start') }} then held_until
            else {{ add_interval('hour', 1, 'hour_start') }}
        end as piece_end,
        case when held_from > hour_start then held_from else hour_start end as piece_start
    from pieces
    where
        hour_start < held_until
        and held_from < held_until
),

final as (
    select
        tenant_id,
        customer_id,
        meter_id,
        dimensions_key,
        hour_start,
        cast(hour_start as date) as usage_date,
        {{ safe_divide(
            'cast(quantity as decimal(38, 12)) * cast(' ~ epoch_micros('piece_end') ~ ' - ' ~ epoch_micros('piece_start') ~ ' as decimal(20, 0))',
            '3600000000'
        ) }} as quantity_hours
    from clipped
)

select * from final
