with source as (
    select * from {{ source('raw', 'catalog_meter_filters') }}
),

final as (
    select
        meter_id,
        dimension,
        value
    from source
)

select * from final
