{{ config(materialized='view', schema='intermediate') }}

{#- Each raw event resolved against its meter: journal quantity (unit-converted), event day and
    hour, lateness, and whether it can enter the journal at all
    (exclusion_reason is null) or goes to the audit model fct_usage_excluded_events. A view, so
    the journal's arrival-window filter reaches the Parquet scan (partition pruning).
    A quantity of 10^18 or more (the event contract's bound, ingestion/events.py
    MAX_INTEGER_DIGITS; reachable here only through properties.<value_property>) is excluded as
    'quantity_out_of_range', so the DECIMAL(38, 12) sums of the rollups cannot overflow
    (docs/events.md, "Quantity bounds"). -#}

with

events as (
    select * from {{ ref('stg_usage__events') }}
),

-- how each catalog meter turns an event into a quantity
meters as (
    select meter_id, aggregation, value_property, unit_multiplier
    from {{ ref('stg_catalog__meters') }}
),

resolved as (
    select
        events.tenant_id,
        events.event_id,
        events.customer_id,
        events.meter_id,
        events.event_ts,
        events.event_quantity,
        events.properties_json,
        events.dimensions_json,
        events.source,
        events.source_file,
        events.arrived_at,
        events.arrival_date,
        meters.meter_id is not null as is_known_meter,
        meters.aggregation,
        coalesce(
            events.event_quantity,
            {{ try_cast_decimal(json_property('events.properties_json', 'meters.value_property')) }},
            case when meters.aggregation in ('count', 'unique_count') then cast(1 as decimal(38, 12)) end
        ) as base_quantity,
        coalesce(meters.unit_multiplier, cast(1 as decimal(38, 12))) as unit_multiplier
    from events
    left join meters
        on events.meter_id = meters.meter_id
),

final as (
    select
        tenant_id,
        event_id,
        customer_id,
        meter_id,
        event_ts,
        cast(event_ts as date) as event_date,
        {{ trunc_to('hour', 'event_ts') }} as event_hour,
        arrived_at,
        arrival_date,
        case
            when base_quantity >= {{ max_event_quantity() }} then null
            when unit_multiplier = 1 then base_quantity
            else {{ decimal_multiply('base_quantity', 'unit_multiplier') }}
        end as quantity,
        event_quantity,
        properties_json,
        dimensions_json,
        source,
        source_file,
        arrival_date > cast(event_ts as date) as is_late,
        aggregation,
        case
            when not is_known_meter then 'unknown_meter'
            when base_quantity is null then 'missing_quantity'
            when base_quantity >= {{ max_event_quantity() }} then 'quantity_out_of_range'
        end as exclusion_reason
    from resolved
)

select * from final
