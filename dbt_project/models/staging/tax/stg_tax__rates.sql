with source as (
    select * from {{ source('raw', 'catalog_tax_rates') }}
),

final as (
    select
        tax_rate_id,
        name as tax_name,
        country,
        state,
        customer_type,
        cast(rate as decimal(38, 12)) as rate,
        cast(inclusive as boolean) as is_inclusive,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        note as tax_note
    from source
)

select * from final
