{#- Usage events as the loaders wrote them: renamed and cast, nothing else. -#}
with

source as (
    {#- typed even while the folder holds no file yet (macro raw_with_schema) -#}
    {{ raw_with_schema(source('raw', 'usage_events'), [
        ('tenant_id', 'varchar'),
        ('event_id', 'varchar'),
        ('customer_id', 'varchar'),
        ('meter', 'varchar'),
        ('event_ts', 'timestamptz'),
        ('quantity', 'varchar'),
        ('properties_json', 'varchar'),
        ('dimensions_json', 'varchar'),
        ('source', 'varchar'),
        ('source_file', 'varchar'),
        ('arrived_at', 'timestamptz'),
        ('arrival_date', 'date'),
    ]) }}
),

renamed as (
    select
        cast(coalesce(tenant_id, 'default') as {{ dbt.type_string() }}) as tenant_id,
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(meter as {{ dbt.type_string() }}) as meter_id,
        {{ to_utc_timestamp('event_ts') }} as event_ts,
        cast(quantity as decimal(38, 12)) as event_quantity,
        cast(coalesce(properties_json, '{}') as {{ dbt.type_string() }}) as properties_json,
        cast(coalesce(dimensions_json, '{}') as {{ dbt.type_string() }}) as dimensions_json,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        {{ to_utc_timestamp('arrived_at') }} as arrived_at,
        cast(arrival_date as date) as arrival_date
    from source
),

final as (
    select * from renamed
)

select * from final
