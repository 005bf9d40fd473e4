{#- Marketplace dimensions of the offering catalog.
    Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC. -#}
with

{% if raw_files_exist('marketplace/dimensions') -%}
    source as (
        select * from {{ source('raw', 'marketplace_dimensions') }}
    ),
{%- else -%}
    source as (
        {#- Not loaded yet: same columns, no rows (keeps the lineage to the source). -#}
        {%- set _lineage = source('raw', 'marketplace_dimensions') %}
        select
            cast(null as {{ dbt.type_string() }}) as marketplace,
            cast(null as {{ dbt.type_string() }}) as offering_id,
            cast(null as {{ dbt.type_string() }}) as product_id,
            cast(null as {{ dbt.type_string() }}) as dimension,
            cast(null as {{ dbt.type_string() }}) as meter_id,
            cast(null as {{ dbt.type_string() }}) as unit,
            cast(null as {{ dbt.type_string() }}) as unit_price,
            cast(null as {{ dbt.type_string() }}) as currency,
            cast(null as {{ dbt.type_string() }}) as meter_units_per_unit,
            cast(null as {{ dbt.type_string() }}) as filters_json,
            cast(null as {{ dbt.type_string() }}) as plan_id
        where false
    ),
{%- endif %}

renamed as (
    select
        cast(marketplace as {{ dbt.type_string() }}) as marketplace,
        cast(offering_id as {{ dbt.type_string() }}) as offering_id,
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(meter_id as {{ dbt.type_string() }}) as meter_id,
        cast(unit as {{ dbt.type_string() }}) as unit,
        cast(unit_price as decimal(38, 12)) as unit_price,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        cast(meter_units_per_unit as decimal(38, 12)) as meter_units_per_unit,
        cast(filters_json as {{ dbt.type_string() }}) as filters_json,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id
    from source
),

final as (
    select * from renamed
)

select * from final
