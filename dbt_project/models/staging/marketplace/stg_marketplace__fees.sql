{#- Listing fee percent per marketplace and the parity tolerance.
    Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC. -#}
with

{% if raw_files_exist('marketplace/fees') -%}
    source as (
        select * from {{ source('raw', 'marketplace_fees') }}
    ),
{%- else -%}
    source as (
        {#- Not loaded yet: same columns, no rows (keeps the lineage to the source). -#}
        {%- set _lineage = source('raw', 'marketplace_fees') %}
        select
            cast(null as {{ dbt.type_string() }}) as marketplace,
            cast(null as {{ dbt.type_string() }}) as listing_fee_pct,
            cast(null as {{ dbt.type_string() }}) as parity_tolerance_pct
        where false
    ),
{%- endif %}

renamed as (
    select
        cast(marketplace as {{ dbt.type_string() }}) as marketplace,
        cast(listing_fee_pct as decimal(38, 12)) as listing_fee_pct,
        cast(parity_tolerance_pct as decimal(38, 12)) as parity_tolerance_pct
    from source
),

final as (
    select * from renamed
)

select * from final
