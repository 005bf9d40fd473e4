{#- Google Cloud Marketplace report rows. Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC. -#}
with

{% if raw_files_exist('marketplace/google_usage_reports') -%}
    source as (
        select * from {{ source('raw', 'marketplace_google_usage_reports') }}
    ),
{%- else -%}
    source as (
        {#- Not loaded yet: same columns, no rows (keeps the lineage to the source). -#}
        {%- set _lineage = source('raw', 'marketplace_google_usage_reports') %}
        select
            cast(null as {{ dbt.type_string() }}) as report_line_id,
            cast(null as {{ dbt.type_string() }}) as usage_reporting_id,
            cast(null as {{ dbt.type_string() }}) as product_id,
            cast(null as {{ dbt.type_string() }}) as usage_date,
            cast(null as {{ dbt.type_string() }}) as billed_amount,
            cast(null as {{ dbt.type_string() }}) as currency,
            cast(null as {{ dbt.type_string() }}) as source_file
        where false
    ),
{%- endif %}

renamed as (
    select
        cast(report_line_id as {{ dbt.type_string() }}) as report_line_id,
        cast(usage_reporting_id as {{ dbt.type_string() }}) as usage_reporting_id,
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(usage_date as date) as usage_date,
        cast(billed_amount as decimal(38, 12)) as billed_amount,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        cast(source_file as {{ dbt.type_string() }}) as source_file
    from source
),

final as (
    select * from renamed
)

select * from final
