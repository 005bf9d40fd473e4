{{ config(materialized='table', schema='billing') }}

{#- Usage that was NOT billed and will not be by the current catalog, one row per event copy,
    with the reason (docs/pricing.md, "Usage that is not billed"). Nothing vanishes without a word:
      unknown_meter, missing_quantity : kept out of the journal (usage.fct_usage_excluded_events);
      duplicate_payload_differs       : a later copy of an event id whose payload (customer, meter,
                                        time, quantity, properties, dimensions) differs from the
                                        first arrival, which the journal kept;
      no_subscription                 : the customer has no subscription covering the event time
                                        (none at all, unknown customer, or a gap between two);
      before_subscription_start       : before the customer's first subscription starts;
      after_subscription_end          : after the customer's last subscription ended;
      meter_not_priced                : the subscription's plan version has no charge on the meter;
      free_trial                      : during the subscription's free-trial days;
      meter_filter                    : refused by the meter's filters;
      no_price_for_dimension          : a dimensional charge without a default price for this value.
    Journal events of billing periods that have not ended by var('as_of_date') are pending, not
    unbilled: they are not listed. -#}
{#- An event copy as listed here, from a row of stg_usage__events' columns (not in the journal:
    no subscription resolved). -#}
{%- set event_copy_columns -%}
        tenant_id,
        event_id,
        customer_id,
        meter_id,
        cast(null as {{ dbt.type_string() }}) as subscription_id,
        event_ts,
        arrived_at,
        event_quantity as quantity
{%- endset %}

with journal as (
    select * from {{ ref('fct_usage_journal') }}
),

excluded as (
    select * from {{ ref('fct_usage_excluded_events') }}
),

raw_events as (
    select * from {{ ref('stg_usage__events') }}
),

billed_events as (
    select * from {{ ref('int_rating__usage_events') }}
),

priced as (
    select * from {{ ref('int_rating__usage_priced') }}
),

subscriptions as (
    select * from {{ ref('stg_catalog__subscriptions') }}
),

periods as (
    select * from {{ ref('int_rating__subscription_periods') }}
),

charged_meters as (
    {#- the meters each billing period prices, its usage months' included -#}
    select distinct
        prices.subscription_id,
        rating_periods.billing_period_start as period_start,
        prices.meter_id
    from {{ ref('int_rating__prices_resolved') }} as prices
    inner join {{ ref('int_rating__rating_periods') }} as rating_periods
        on {{ columns_match('prices', 'rating_periods', ['subscription_id', 'period_start', 'period_end']) }}
    where prices.charge_type = 'usage'
),

excluded_rows as (
    select
        {{ event_copy_columns }},
        exclusion_reason as reason
    from excluded
),

repeated_ids as (
    {#- (tenant, event id) pairs that arrived more than once; its own import of the raw events (two
        reads of `raw_events` would make DuckDB materialize every raw row first) -#}
    select
        tenant_id,
        event_id
    from {{ ref('stg_usage__events') }}
    group by tenant_id, event_id
    having count(*) > 1
),

event_payloads as (
    {#- the copies of those ids, with the payload the journal compares -#}
    select
        raw_events.*,
        raw_events.customer_id || '|' || raw_events.meter_id || '|' || cast(raw_events.event_ts as {{ dbt.type_string() }})
        || '|' || coalesce(cast(raw_events.event_quantity as {{ dbt.type_string() }}), '') || '|'
        || raw_events.properties_json || '|' || raw_events.dimensions_json as payload
    from raw_events
    inner join repeated_ids
        on {{ columns_match('raw_events', 'repeated_ids', ['tenant_id', 'event_id']) }}
),

arrival_ranked as (
    {#- the journal's rule: the first arrival of an event id wins -#}
    select
        event_payloads.*,
        first_value(event_payloads.payload) over (
            partition by event_payloads.tenant_id, event_payloads.event_id
            order by event_payloads.arrived_at, event_payloads.source_file, event_payloads.event_ts,
                event_payloads.customer_id, event_payloads.meter_id
            rows between unbounded preceding and unbounded following
        ) as first_payload
    from event_payloads
),

duplicate_rows as (
    select
        {{ event_copy_columns }},
        'duplicate_payload_differs' as reason
    from arrival_ranked
    where payload != first_payload
),

not_billed as (
    select journal.*
    from journal
    left join billed_events
        on {{ columns_match('journal', 'billed_events', ['tenant_id', 'customer_id', 'event_id']) }}
    where billed_events.event_id is null
),

subscription_cover as (
    select
        not_billed.tenant_id,
        not_billed.event_id,
        count(subscriptions.subscription_id) as subscription_count,
        min(case
            when not_billed.event_ts >= subscriptions.start_date
                and (subscriptions.end_date is null or not_billed.event_ts < subscriptions.end_date)
                then subscriptions.subscription_id
        end) as covering_subscription_id,
        min(subscriptions.start_date) as first_start,
        max(case when subscriptions.end_date is null then 1 else 0 end) as has_open_end,
        max(subscriptions.end_date) as last_end
    from not_billed
    left join subscriptions
        on
            not_billed.tenant_id = subscriptions.tenant_id
            and not_billed.customer_id = subscriptions.customer_id
    group by not_billed.tenant_id, not_billed.event_id
),

classified as (
    select
        not_billed.tenant_id,
        not_billed.event_id,
        not_billed.customer_id,
        not_billed.meter_id,
        subscription_cover.covering_subscription_id as subscription_id,
        not_billed.event_ts,
        not_billed.arrived_at,
        not_billed.quantity,
        case
            when subscription_cover.covering_subscription_id is null then
                case
                    when subscription_cover.subscription_count = 0 then 'no_subscription'
                    when not_billed.event_ts < subscription_cover.first_start then 'before_subscription_start'
                    when subscription_cover.has_open_end = 0 and not_billed.event_ts >= subscription_cover.last_end
                        then 'after_subscription_end'
                    else 'no_subscription'
                end
            when periods.subscription_id is null or not periods.is_ended then 'pending'
            when not_billed.event_ts < periods.trial_end then 'free_trial'
            when charged_meters.meter_id is null then 'meter_not_priced'
            else 'meter_filter'
        end as reason
    from not_billed
    inner join subscription_cover
        on
            not_billed.tenant_id = subscription_cover.tenant_id
            and not_billed.event_id = subscription_cover.event_id
    left join periods
        on
            subscription_cover.covering_subscription_id = periods.subscription_id
            and not_billed.event_ts >= periods.service_start
            and not_billed.event_ts < periods.service_end
    left join charged_meters
        on
            periods.subscription_id = charged_meters.subscription_id
            and periods.period_start = charged_meters.period_start
            and not_billed.meter_id = charged_meters.meter_id
),

unpriced_groups as (
    {#- the rated events carry the journal's arrived_at: no second read of the journal (two would
        make DuckDB materialize all of it) -#}
    select
        billed_events.tenant_id,
        billed_events.event_id,
        billed_events.customer_id,
        billed_events.meter_id,
        billed_events.subscription_id,
        billed_events.event_ts,
        billed_events.arrived_at,
        billed_events.quantity,
        'no_price_for_dimension' as reason
    from billed_events
    left join priced
        on {{ columns_match('billed_events', 'priced', ['subscription_id', 'period_start', 'meter_id', 'dimensions_json']) }}
    where priced.subscription_id is null
),

final as (
    select * from excluded_rows
    union all
    select * from duplicate_rows
    union all
    select * from classified
    where reason != 'pending'
    union all
    select * from unpriced_groups
)

select
    tenant_id,
    event_id,
    customer_id,
    meter_id,
    subscription_id,
    event_ts,
    arrived_at,
    cast(quantity as decimal(38, 12)) as quantity,
    cast(reason as {{ dbt.type_string() }}) as reason
from final
