with source as (
    select * from {{ source('raw', 'catalog_currencies') }}
),

final as (
    select
        currency,
        cast(minor_unit as integer) as minor_unit
    from source
)

select * from final
