{#- Usage events as the loaders wrote them: renamed and cast, nothing else. Column specs: macros/staging/raw_feed.sql. -#}
{%- set columns = [
    'tenant_id=default', 'event_id', 'customer_id', 'meter>meter_id', 'event_ts:utc', 'quantity:amount>event_quantity',
    'properties_json={}', 'dimensions_json={}', 'source', 'source_file', 'arrived_at:utc', 'arrival_date:date',
] %}

{{ stage_loader_feed(source('raw', 'usage_events'), columns) }}
