{#- Records refused by the loaders, with the field, rule and reason. Column specs: macros/staging/raw_feed.sql. -#}
{%- set columns = [
    'source_file', 'line_number:bigint', 'raw_record', 'field>field_name', 'rule>rule_name', 'reason',
    'quarantined_at:utc', 'arrival_date:date',
] %}

{{ stage_loader_feed(source('raw', 'quarantine'), columns) }}
