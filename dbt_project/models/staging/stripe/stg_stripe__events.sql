{#- Stripe events, one row per event id (webhook and polling may both land one; files are per id). -#}
with

source as (
    {#- No event landed yet: same columns, typed, no rows (macros/staging/raw_feed.sql). -#}
    {{ raw_feed_source('stripe_events', source('raw', 'stripe_events'), [
        'event_id', 'event_type', 'created_at:timestamp', 'api_version', 'livemode:boolean',
        'object_type', 'object_id', 'payload_json', 'source', 'received_at:timestamp',
    ], typed_empty=true) }}
),

deduplicated as (
    select
        *,
        row_number() over (partition by event_id order by received_at) as copy_number
    from source
),

final as (
    select
        event_id,
        event_type,
        cast(created_at as timestamp) as created_at,
        api_version,
        livemode,
        object_type,
        object_id,
        payload_json,
        source as landed_by,
        cast(received_at as timestamp) as received_at
    from deduplicated
    where copy_number = 1
)

select * from final
