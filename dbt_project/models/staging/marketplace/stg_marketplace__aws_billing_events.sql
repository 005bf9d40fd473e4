{#- AWS billing event feed rows. Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC. -#}
with

{% if raw_files_exist('marketplace/aws_billing_events') -%}
    source as (
        select * from {{ source('raw', 'marketplace_aws_billing_events') }}
    ),
{%- else -%}
    source as (
        {#- Not loaded yet: same columns, no rows (keeps the lineage to the source). -#}
        {%- set _lineage = source('raw', 'marketplace_aws_billing_events') %}
        select
            cast(null as {{ dbt.type_string() }}) as billing_event_id,
            cast(null as {{ dbt.type_string() }}) as end_user_account_id,
            cast(null as {{ dbt.type_string() }}) as product_id,
            cast(null as {{ dbt.type_string() }}) as action,
            cast(null as {{ dbt.type_string() }}) as transaction_type,
            cast(null as {{ dbt.type_string() }}) as amount,
            cast(null as {{ dbt.type_string() }}) as currency,
            cast(null as {{ dbt.type_string() }}) as invoice_date,
            cast(null as {{ dbt.type_string() }}) as invoice_id,
            cast(null as {{ dbt.type_string() }}) as source_file
        where false
    ),
{%- endif %}

renamed as (
    select
        cast(billing_event_id as {{ dbt.type_string() }}) as billing_event_id,
        cast(end_user_account_id as {{ dbt.type_string() }}) as end_user_account_id,
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(action as {{ dbt.type_string() }}) as action,
        cast(transaction_type as {{ dbt.type_string() }}) as transaction_type,
        cast(amount as decimal(38, 12)) as amount,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        cast(invoice_date as date) as invoice_date,
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(source_file as {{ dbt.type_string() }}) as source_file
    from source
),

final as (
    select * from renamed
)

select * from final
