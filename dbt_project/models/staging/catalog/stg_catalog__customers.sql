with source as (
    select * from {{ source('raw', 'catalog_customers') }}
),

final as (
    select
        tenant_id,
        customer_id,
        name,
        email,
        country,
        currency,
        customer_type,
        tax_id,
        cast(tax_exempt as boolean) as tax_exempt,
        cast(created_at as date) as created_at,
        address_json
    from source
)

select * from final
