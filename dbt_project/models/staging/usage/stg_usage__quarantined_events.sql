{#- Records refused by the loaders, with the field, rule and reason. -#}
with

source as (
    {#- While the folder has no file yet (DuckDB cannot read an empty glob): the same columns,
        no rows. The source() call keeps the lineage either way. -#}
    {%- if raw_files_exist('quarantine') %}
        select * from {{ source('raw', 'quarantine') }}
    {%- else %}
        {%- set _lineage = source('raw', 'quarantine') %}
        select
            cast(null as varchar) as source_file,
            cast(null as bigint) as line_number,
            cast(null as varchar) as raw_record,
            cast(null as varchar) as field,
            cast(null as varchar) as rule,
            cast(null as varchar) as reason,
            cast(null as timestamp) as quarantined_at,
            cast(null as date) as arrival_date
        where false
    {%- endif %}
),

renamed as (
    select
        cast(source_file as varchar) as source_file,
        cast(line_number as bigint) as line_number,
        cast(raw_record as varchar) as raw_record,
        cast(field as varchar) as field_name,
        cast(rule as varchar) as rule_name,
        cast(reason as varchar) as reason,
        {{ to_utc_timestamp('quarantined_at') }} as quarantined_at,
        cast(arrival_date as date) as arrival_date
    from source
),

final as (
    select * from renamed
)

select * from final
