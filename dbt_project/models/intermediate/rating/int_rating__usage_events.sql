{#- Journal events billable in an ENDED billing period of a subscription whose plan charges the
    meter: event_ts in [service_start, service_end), after the free trial (trial_end), and
    accepted by the meter's filters. Each event carries the values of the meter's group-by
    dimensions and the canonical JSON of those values (dimensions_json), which splits lines. -#}

with journal as (
    select * from {{ ref('fct_usage_journal') }}
),

periods as (
    select * from {{ ref('int_rating__subscription_periods') }}
    where is_ended
),

charged_meters as (
    select distinct
        subscription_id,
        period_start,
        meter_id
    from {{ ref('int_rating__prices_resolved') }}
    where charge_type = 'usage'
),

meters as (
    select * from {{ ref('stg_catalog__meters') }}
),

meter_filters as (
    select * from {{ ref('stg_catalog__meter_filters') }}
),

filter_dimensions as (
    select distinct
        meter_id,
        dimension
    from meter_filters
),

in_period as (
    select
        periods.subscription_id,
        periods.tenant_id,
        periods.customer_id,
        periods.period_start,
        periods.service_end,
        journal.meter_id,
        journal.event_id,
        journal.event_ts,
        journal.quantity,
        journal.properties_json,
        journal.dimensions_json as event_dimensions_json,
        meters.aggregation,
        meters.unique_property,
        meters.group_by_1,
        meters.group_by_2,
        meters.group_by_3,
        case when meters.group_by_1 is not null
                then {{ json_property('journal.dimensions_json', 'meters.group_by_1') }}
        end as group_value_1,
        case when meters.group_by_2 is not null
                then {{ json_property('journal.dimensions_json', 'meters.group_by_2') }}
        end as group_value_2,
        case when meters.group_by_3 is not null
                then {{ json_property('journal.dimensions_json', 'meters.group_by_3') }}
        end as group_value_3
    from journal
    inner join periods
        on
            journal.tenant_id = periods.tenant_id
            and journal.customer_id = periods.customer_id
            and journal.event_ts >= periods.service_start
            and journal.event_ts < periods.service_end
            and journal.event_ts >= periods.trial_end
    inner join charged_meters
        on
            periods.subscription_id = charged_meters.subscription_id
            and periods.period_start = charged_meters.period_start
            and journal.meter_id = charged_meters.meter_id
    inner join meters
        on journal.meter_id = meters.meter_id
    where not exists (
            select 1
            from filter_dimensions
            where
                filter_dimensions.meter_id = journal.meter_id
                and not exists (
                    select 1
                    from meter_filters
                    where
                        meter_filters.meter_id = filter_dimensions.meter_id
                        and meter_filters.dimension = filter_dimensions.dimension
                        and meter_filters.value = {{ json_property('journal.dimensions_json', 'filter_dimensions.dimension') }}
                )
        )
),

final as (
    select
        in_period.*,
        '{'
        || case when group_by_1 is not null
                then {{ json_string('group_by_1') }} || ':' || {{ json_string('group_value_1') }}
            else ''
        end
        || case when group_by_2 is not null
                then ',' || {{ json_string('group_by_2') }} || ':' || {{ json_string('group_value_2') }}
            else ''
        end
        || case when group_by_3 is not null
                then ',' || {{ json_string('group_by_3') }} || ':' || {{ json_string('group_value_3') }}
            else ''
        end
        || '}' as dimensions_json
    from in_period
)

select * from final
