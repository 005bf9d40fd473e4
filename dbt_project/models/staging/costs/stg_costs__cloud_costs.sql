{#- FOCUS cost rows (from FOCUS CSV or AWS CUR 2.0, ingestion/costs.py): renamed to snake_case usagebill
    names and cast (money as DECIMAL(38,12)), with what each row serves: a meter (and one of its
    dimensions, e.g. gpu_type = h100), a customer, or nothing (shared cost). Files written before
    the attribution columns existed read as attribution_source 'columns'. -#}
with

source as (
    {#- typed even while the folder holds no file yet (macro raw_with_schema) -#}
    {{ raw_with_schema(source('raw', 'cloud_costs'), [
        ('billing_period_start', 'timestamptz'),
        ('charge_period_start', 'timestamptz'),
        ('charge_period_end', 'timestamptz'),
        ('provider_name', 'varchar'),
        ('service_name', 'varchar'),
        ('sku_id', 'varchar'),
        ('resource_id', 'varchar'),
        ('charge_category', 'varchar'),
        ('billed_cost', 'varchar'),
        ('billing_currency', 'varchar'),
        ('consumed_quantity', 'varchar'),
        ('consumed_unit', 'varchar'),
        ('cost_kind', 'varchar'),
        ('usagebill_meter', 'varchar'),
        ('dimension_name', 'varchar'),
        ('dimension_value', 'varchar'),
        ('tenant_id', 'varchar'),
        ('customer_id', 'varchar'),
        ('attribution_source', 'varchar'),
        ('source_file', 'varchar'),
        ('line_number', 'bigint'),
    ]) }}
),

renamed as (
    select
        cast({{ to_utc_timestamp('billing_period_start') }} as date) as billing_period_start,
        {{ to_utc_timestamp('charge_period_start') }} as charge_period_start,
        {{ to_utc_timestamp('charge_period_end') }} as charge_period_end,
        cast(provider_name as {{ dbt.type_string() }}) as provider_name,
        cast(service_name as {{ dbt.type_string() }}) as service_name,
        cast(sku_id as {{ dbt.type_string() }}) as sku_id,
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,
        cast(charge_category as {{ dbt.type_string() }}) as charge_category,
        cast(billed_cost as decimal(38, 12)) as billed_cost,
        upper(cast(billing_currency as {{ dbt.type_string() }})) as billing_currency,
        cast(consumed_quantity as decimal(38, 12)) as consumed_quantity,
        cast(consumed_unit as {{ dbt.type_string() }}) as consumed_unit,
        lower(cast(cost_kind as {{ dbt.type_string() }})) as cost_kind,
        cast(usagebill_meter as {{ dbt.type_string() }}) as meter_id,
        cast(dimension_name as {{ dbt.type_string() }}) as dimension_name,
        cast(dimension_value as {{ dbt.type_string() }}) as dimension_value,
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        coalesce(cast(attribution_source as {{ dbt.type_string() }}), 'columns') as attribution_source,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(line_number as bigint) as line_number
    from source
),

final as (
    select * from renamed
)

select * from final
