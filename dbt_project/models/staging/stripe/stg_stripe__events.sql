{#- Stripe events, one row per event id (webhook and polling may both land one; files are per id). -#}
with

{% if raw_files_exist('stripe_events') -%}
    source as (
        select * from {{ source('raw', 'stripe_events') }}
    ),
{%- else -%}
    source as (
        {#- No event landed yet: same columns, no rows (keeps the lineage to the source). -#}
        {%- set _lineage = source('raw', 'stripe_events') %}
        select
            cast(null as {{ dbt.type_string() }}) as event_id,
            cast(null as {{ dbt.type_string() }}) as event_type,
            cast(null as timestamp) as created_at,
            cast(null as {{ dbt.type_string() }}) as api_version,
            cast(null as boolean) as livemode,
            cast(null as {{ dbt.type_string() }}) as object_type,
            cast(null as {{ dbt.type_string() }}) as object_id,
            cast(null as {{ dbt.type_string() }}) as payload_json,
            cast(null as {{ dbt.type_string() }}) as source,
            cast(null as timestamp) as received_at
        where false
    ),
{%- endif %}

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
