with source as (
    select * from {{ source('raw', 'catalog_issuer') }}
),

final as (
    select
        issuer_id,
        legal_name,
        address_json,
        country,
        tax_id,
        email,
        invoice_prefix,
        credit_note_prefix,
        cast(number_width as integer) as number_width,
        cast(payment_terms_days as integer) as payment_terms_days
    from source
)

select * from final
