with source as (
    select * from {{ source('raw', 'catalog_meters') }}
),

final as (
    select
        meter_id,
        name,
        unit,
        aggregation,
        value_property,
        cast(unit_multiplier as decimal(38, 12)) as unit_multiplier,
        unique_property,
        filters_json,
        group_by_json,
        group_by_1,
        group_by_2,
        group_by_3
    from source
)

select * from final
