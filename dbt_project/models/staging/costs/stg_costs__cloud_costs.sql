{#- FOCUS cost rows: renamed to snake_case usagebill names and cast (money as DECIMAL(38,12)). -#}
with

source as (
    {#- While the folder has no file yet (DuckDB cannot read an empty glob): the same columns,
        no rows. The source() call keeps the lineage either way. -#}
    {%- if raw_files_exist('cloud_costs') %}
        select * from {{ source('raw', 'cloud_costs') }}
    {%- else %}
        {%- set _lineage = source('raw', 'cloud_costs') %}
        select
            cast(null as date) as billing_period_start,
            cast(null as timestamp) as charge_period_start,
            cast(null as timestamp) as charge_period_end,
            cast(null as varchar) as provider_name,
            cast(null as varchar) as service_name,
            cast(null as varchar) as sku_id,
            cast(null as varchar) as resource_id,
            cast(null as varchar) as charge_category,
            cast(null as varchar) as billed_cost,
            cast(null as varchar) as billing_currency,
            cast(null as varchar) as consumed_quantity,
            cast(null as varchar) as consumed_unit,
            cast(null as varchar) as cost_kind,
            cast(null as varchar) as usagebill_meter,
            cast(null as varchar) as source_file,
            cast(null as bigint) as line_number
        where false
    {%- endif %}
),

renamed as (
    select
        cast({{ to_utc_timestamp('billing_period_start') }} as date) as billing_period_start,
        {{ to_utc_timestamp('charge_period_start') }} as charge_period_start,
        {{ to_utc_timestamp('charge_period_end') }} as charge_period_end,
        cast(provider_name as varchar) as provider_name,
        cast(service_name as varchar) as service_name,
        cast(sku_id as varchar) as sku_id,
        cast(resource_id as varchar) as resource_id,
        cast(charge_category as varchar) as charge_category,
        cast(billed_cost as decimal(38, 12)) as billed_cost,
        upper(cast(billing_currency as varchar)) as billing_currency,
        cast(consumed_quantity as decimal(38, 12)) as consumed_quantity,
        cast(consumed_unit as varchar) as consumed_unit,
        lower(cast(cost_kind as varchar)) as cost_kind,
        cast(usagebill_meter as varchar) as meter_id,
        cast(source_file as varchar) as source_file,
        cast(line_number as bigint) as line_number
    from source
),

final as (
    select * from renamed
)

select * from final
