{#- The billable quantity of each (subscription, period, meter, group-by values), aggregated as the
    meter says. time_weighted_sum: each sample holds its value until the next sample of the same
    group or the end of the service period, quantity x hours (a gauge in GB gives GB-hours);
    before the first sample of the period the value is 0. -#}

with events as (
    select * from {{ ref('int_rating__usage_events') }}
),

gauge_events as (
    {#- its own import: two reads of `events` would make DuckDB materialize every rated event -#}
    select * from {{ ref('int_rating__usage_events') }}
    where aggregation = 'time_weighted_sum'
),

held as (
    select
        subscription_id,
        period_start,
        meter_id,
        dimensions_json,
        {{ decimal_multiply('quantity', safe_divide(
            epoch_micros('coalesce(next_ts, cast(service_end as timestamp))') ~ ' - ' ~ epoch_micros('event_ts'),
            '1000000')) }} as quantity_seconds
    from (
        select
            gauge_events.*,
            lead(event_ts) over (
                partition by subscription_id, period_start, meter_id, dimensions_json
                order by event_ts, event_id
            ) as next_ts
        from gauge_events
    ) as gauge_samples
),

time_weighted as (
    select
        subscription_id,
        period_start,
        meter_id,
        dimensions_json,
        {{ safe_divide('sum(quantity_seconds)', '3600') }} as quantity_hours
    from held
    group by subscription_id, period_start, meter_id, dimensions_json
),

aggregated as (
    select
        subscription_id,
        tenant_id,
        customer_id,
        period_start,
        meter_id,
        aggregation,
        group_by_1,
        group_by_2,
        group_by_3,
        group_value_1,
        group_value_2,
        group_value_3,
        dimensions_json,
        count(*) as event_count,
        case aggregation
            when 'sum' then sum(quantity)
            when 'count' then cast(count(*) as decimal(38, 12))
            when 'max' then max(quantity)
            when 'unique_count'
                then cast(count(distinct {{ json_property('properties_json', 'unique_property') }}) as decimal(38, 12))
            when 'latest' then {{ value_at_max('quantity', ['event_ts', 'event_id']) }}
            when 'average' then {{ safe_divide('sum(quantity)', 'count(*)') }}
        end as aggregated_quantity
    from events
    group by
        subscription_id, tenant_id, customer_id, period_start, meter_id, aggregation, group_by_1, group_by_2, group_by_3,
        group_value_1, group_value_2, group_value_3, dimensions_json
),

final as (
    select
        aggregated.subscription_id,
        aggregated.tenant_id,
        aggregated.customer_id,
        aggregated.period_start,
        aggregated.meter_id,
        aggregated.aggregation,
        aggregated.group_by_1,
        aggregated.group_by_2,
        aggregated.group_by_3,
        aggregated.group_value_1,
        aggregated.group_value_2,
        aggregated.group_value_3,
        aggregated.dimensions_json,
        aggregated.event_count,
        cast(
            case when aggregated.aggregation = 'time_weighted_sum' then time_weighted.quantity_hours
                else aggregated.aggregated_quantity
            end
            as decimal(38, 12)
        ) as quantity
    from aggregated
    left join time_weighted
        on {{ columns_match('aggregated', 'time_weighted', ['subscription_id', 'period_start', 'meter_id', 'dimensions_json']) }}
)

select * from final
