{{ partitioned_daily_config('arrival_date') }}

{#- Audit of valid events that cannot enter the journal, with the reason: 'unknown_meter' (the
    meter is not in the catalog: add it and full-refresh the journal) or 'missing_quantity'
    (no quantity and none derivable from properties.<value_property>) or 'quantity_out_of_range'
    (10^18 or more, beyond the event contract). Nothing is lost: every raw
    event is in the journal or here. Incremental by arrival window like the journal. -#}

with

-- the metered events of this run's arrival window that cannot enter the journal, as they arrived
final as (
    select
        tenant_id, event_id, customer_id, meter_id, event_ts, arrived_at, arrival_date,
        event_quantity, properties_json, dimensions_json, source, source_file, exclusion_reason
    from {{ ref('int_usage__events_metered') }}
    where
        exclusion_reason is not null
        and {{ arrival_window_filter('arrival_date') }}
)

select * from final
