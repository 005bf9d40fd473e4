{#- Azure transaction history rows. Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC. -#}
with

{% if raw_files_exist('marketplace/azure_transactions') -%}
    source as (
        select * from {{ source('raw', 'marketplace_azure_transactions') }}
    ),
{%- else -%}
    source as (
        {#- Not loaded yet: same columns, no rows (keeps the lineage to the source). -#}
        {%- set _lineage = source('raw', 'marketplace_azure_transactions') %}
        select
            cast(null as {{ dbt.type_string() }}) as transaction_id,
            cast(null as {{ dbt.type_string() }}) as resource_id,
            cast(null as {{ dbt.type_string() }}) as offer_id,
            cast(null as {{ dbt.type_string() }}) as plan_id,
            cast(null as {{ dbt.type_string() }}) as transaction_date,
            cast(null as {{ dbt.type_string() }}) as billed_amount,
            cast(null as {{ dbt.type_string() }}) as currency,
            cast(null as {{ dbt.type_string() }}) as source_file
        where false
    ),
{%- endif %}

renamed as (
    select
        cast(transaction_id as {{ dbt.type_string() }}) as transaction_id,
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,
        cast(offer_id as {{ dbt.type_string() }}) as offer_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(transaction_date as date) as transaction_date,
        cast(billed_amount as decimal(38, 12)) as billed_amount,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        cast(source_file as {{ dbt.type_string() }}) as source_file
    from source
),

final as (
    select * from renamed
)

select * from final
