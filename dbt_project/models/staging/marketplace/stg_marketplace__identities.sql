{{ config(tags=["invoicing"]) }}
{#- Customer marketplace identities and subscription state periods.
    Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC. -#}
with

{% if raw_files_exist('marketplace/identities') -%}
    source as (
        select * from {{ source('raw', 'marketplace_identities') }}
    ),
{%- else -%}
    source as (
        {#- Not loaded yet: same columns, no rows (keeps the lineage to the source). -#}
        {%- set _lineage = source('raw', 'marketplace_identities') %}
        select
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as marketplace,
            cast(null as {{ dbt.type_string() }}) as offering_id,
            cast(null as {{ dbt.type_string() }}) as marketplace_customer,
            cast(null as {{ dbt.type_string() }}) as account_id,
            cast(null as {{ dbt.type_string() }}) as customer_identifier,
            cast(null as {{ dbt.type_string() }}) as license_arn,
            cast(null as {{ dbt.type_string() }}) as resource_id,
            cast(null as {{ dbt.type_string() }}) as plan_id,
            cast(null as {{ dbt.type_string() }}) as usage_reporting_id,
            cast(null as {{ dbt.type_string() }}) as state,
            cast(null as {{ dbt.type_string() }}) as valid_from,
            cast(null as {{ dbt.type_string() }}) as valid_to
        where false
    ),
{%- endif %}

renamed as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(marketplace as {{ dbt.type_string() }}) as marketplace,
        cast(offering_id as {{ dbt.type_string() }}) as offering_id,
        cast(marketplace_customer as {{ dbt.type_string() }}) as marketplace_customer,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(customer_identifier as {{ dbt.type_string() }}) as customer_identifier,
        cast(license_arn as {{ dbt.type_string() }}) as license_arn,
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(usage_reporting_id as {{ dbt.type_string() }}) as usage_reporting_id,
        cast(state as {{ dbt.type_string() }}) as state,
        cast(replace(valid_from, 'Z', '') as timestamp) as valid_from,
        cast(replace(valid_to, 'Z', '') as timestamp) as valid_to
    from source
),

final as (
    select * from renamed
)

select * from final
