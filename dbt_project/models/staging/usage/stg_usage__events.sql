{#- Usage events as the loaders wrote them: renamed and cast, nothing else. -#}
with

source as (
    {#- While the folder has no file yet (DuckDB cannot read an empty glob): the same columns,
        no rows. The source() call keeps the lineage either way. -#}
    {%- if raw_files_exist('usage_events') %}
        select * from {{ source('raw', 'usage_events') }}
    {%- else %}
        {%- set _lineage = source('raw', 'usage_events') %}
        select
            cast(null as varchar) as tenant_id,
            cast(null as varchar) as event_id,
            cast(null as varchar) as customer_id,
            cast(null as varchar) as meter,
            cast(null as timestamp) as event_ts,
            cast(null as varchar) as quantity,
            cast(null as varchar) as properties_json,
            cast(null as varchar) as dimensions_json,
            cast(null as varchar) as source,
            cast(null as varchar) as source_file,
            cast(null as timestamp) as arrived_at,
            cast(null as date) as arrival_date
        where false
    {%- endif %}
),

renamed as (
    select
        cast(coalesce(tenant_id, 'default') as varchar) as tenant_id,
        cast(event_id as varchar) as event_id,
        cast(customer_id as varchar) as customer_id,
        cast(meter as varchar) as meter_id,
        {{ to_utc_timestamp('event_ts') }} as event_ts,
        cast(quantity as decimal(38, 12)) as event_quantity,
        cast(coalesce(properties_json, '{}') as varchar) as properties_json,
        cast(coalesce(dimensions_json, '{}') as varchar) as dimensions_json,
        cast(source as varchar) as source,
        cast(source_file as varchar) as source_file,
        {{ to_utc_timestamp('arrived_at') }} as arrived_at,
        cast(arrival_date as date) as arrival_date
    from source
),

final as (
    select * from renamed
)

select * from final
