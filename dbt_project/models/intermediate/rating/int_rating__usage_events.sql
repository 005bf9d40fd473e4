{#- Journal events billable in an ENDED rating period (a billing period, or a usage month of a
    plan billing usage monthly: int_rating__rating_periods) of a subscription whose plan charges the
    meter: event_ts in [service_start, service_end), after the free trial (trial_end), and
    accepted by the meter's filters. Each event carries the values of the meter's group-by
    dimensions and the canonical JSON of those values (dimensions_json), which splits lines, and
    the journal columns the lineage and the unbilled report show (event_hour, dimensions_key,
    source, arrived_at), so that they need not join the journal again. -#}

with journal as (
    select * from {{ ref('fct_usage_journal') }}
),

periods as (
    select * from {{ ref('int_rating__rating_periods') }}
    where is_ended
),

charged_meters as (
    select distinct
        subscription_id,
        period_start,
        period_end,
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

journal_dimension_sets as (
    {#- each (meter, dimensions) pair of the journal once: the meter's filters and group-by values
        are worked out per pair, not per event (a handful of pairs for millions of events; the
        journal keys its dimensions the same way). Its own import of the journal: two reads of the
        `journal` CTE would make DuckDB materialize all of it first. -#}
    select distinct
        meter_id,
        dimensions_json
    from {{ ref('fct_usage_journal') }}
),

filter_failures as (
    {#- (meter, dimensions) pairs that some filter dimension of the meter rejects (no allowed value
        matches): a join, not a correlated subquery two levels deep, runs on every engine -#}
    select distinct
        journal_dimension_sets.meter_id,
        journal_dimension_sets.dimensions_json
    from journal_dimension_sets
    inner join filter_dimensions
        on journal_dimension_sets.meter_id = filter_dimensions.meter_id
    left join meter_filters
        on
            filter_dimensions.meter_id = meter_filters.meter_id
            and filter_dimensions.dimension = meter_filters.dimension
            and meter_filters.value
            = {{ json_property('journal_dimension_sets.dimensions_json', 'filter_dimensions.dimension') }}
    where meter_filters.meter_id is null
),

dimension_values as (
    {#- the pairs the filters accept, with the values of the meter's group-by dimensions -#}
    select
        journal_dimension_sets.meter_id,
        journal_dimension_sets.dimensions_json as event_dimensions_json,
        meters.aggregation,
        meters.unique_property,
        meters.group_by_1,
        meters.group_by_2,
        meters.group_by_3,
        case when meters.group_by_1 is not null
                then {{ json_property('journal_dimension_sets.dimensions_json', 'meters.group_by_1') }}
        end as group_value_1,
        case when meters.group_by_2 is not null
                then {{ json_property('journal_dimension_sets.dimensions_json', 'meters.group_by_2') }}
        end as group_value_2,
        case when meters.group_by_3 is not null
                then {{ json_property('journal_dimension_sets.dimensions_json', 'meters.group_by_3') }}
        end as group_value_3
    from journal_dimension_sets
    inner join meters
        on journal_dimension_sets.meter_id = meters.meter_id
    left join filter_failures
        on
            journal_dimension_sets.meter_id = filter_failures.meter_id
            and journal_dimension_sets.dimensions_json = filter_failures.dimensions_json
    where filter_failures.meter_id is null
),

dimension_groups as (
    {#- the canonical JSON of the group-by values, which splits lines -#}
    select
        dimension_values.*,
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
    from dimension_values
),

final as (
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
        dimension_groups.aggregation,
        dimension_groups.unique_property,
        dimension_groups.group_by_1,
        dimension_groups.group_by_2,
        dimension_groups.group_by_3,
        dimension_groups.group_value_1,
        dimension_groups.group_value_2,
        dimension_groups.group_value_3,
        dimension_groups.dimensions_json,
        journal.event_hour,
        journal.dimensions_key,
        journal.source,
        journal.arrived_at
    from journal
    inner join periods
        on
            journal.tenant_id = periods.tenant_id
            and journal.customer_id = periods.customer_id
            and journal.event_ts >= periods.service_start
            and journal.event_ts < periods.service_end
            and journal.event_ts >= periods.trial_end
    inner join charged_meters
        on {{ columns_match('periods', 'charged_meters', ['subscription_id', 'period_start', 'period_end']) }}
            and journal.meter_id = charged_meters.meter_id
    inner join dimension_groups
        on
            journal.meter_id = dimension_groups.meter_id
            and journal.dimensions_json = dimension_groups.event_dimensions_json
)

select * from final
