{#- Records refused by the loaders, with the field, rule and reason. -#}
with

source as (
    {#- typed even while the folder holds no file yet (macro raw_with_schema) -#}
    {{ raw_with_schema(source('raw', 'quarantine'), [
        ('source_file', 'varchar'),
        ('line_number', 'bigint'),
        ('raw_record', 'varchar'),
        ('field', 'varchar'),
        ('rule', 'varchar'),
        ('reason', 'varchar'),
        ('quarantined_at', 'timestamptz'),
        ('arrival_date', 'date'),
    ]) }}
),

renamed as (
    select
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(line_number as bigint) as line_number,
        cast(raw_record as {{ dbt.type_string() }}) as raw_record,
        cast(field as {{ dbt.type_string() }}) as field_name,
        cast(rule as {{ dbt.type_string() }}) as rule_name,
        cast(reason as {{ dbt.type_string() }}) as reason,
        {{ to_utc_timestamp('quarantined_at') }} as quarantined_at,
        cast(arrival_date as date) as arrival_date
    from source
),

final as (
    select * from renamed
)

select * from final
