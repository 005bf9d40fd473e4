{#- FOCUS cost rows (from FOCUS CSV or AWS CUR 2.0, ingestion/costs.py): renamed to snake_case usagebill
    names and cast (money as DECIMAL(38,12)), with what each row serves: a meter (and one of its
    dimensions, e.g. gpu_type = h100), a customer, or nothing (shared cost). Files written before
    the attribution columns existed read as attribution_source 'columns'.
    Column specs: macros/staging/raw_feed.sql. -#}
{%- set columns = [
    'billing_period_start:utc_date', 'charge_period_start:utc', 'charge_period_end:utc', 'provider_name',
    'service_name', 'sku_id', 'resource_id', 'charge_category', 'billed_cost:amount', 'billing_currency:upper',
    'consumed_quantity:amount', 'consumed_unit', 'cost_kind:lower', 'usagebill_meter>meter_id', 'dimension_name',
    'dimension_value', 'tenant_id', 'customer_id', 'attribution_source=columns', 'source_file', 'line_number:bigint',
] %}

{{ stage_loader_feed(source('raw', 'cloud_costs'), columns) }}
