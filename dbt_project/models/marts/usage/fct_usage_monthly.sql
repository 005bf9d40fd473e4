{%- set is_spark = target.type == 'spark' -%}
{{ config(
    materialized='incremental',
    schema='usage',
    tags=['partitioned_daily'],
    incremental_strategy=('insert_overwrite' if is_spark else 'delete+insert'),
    unique_key=(none if is_spark else 'usage_month'),
    partition_by=('usage_month' if is_spark else none),
    file_format=('parquet' if is_spark else none),
    on_schema_change='fail',
) }}

{#- Usage per tenant, customer, meter, dimensions and month (see macro usage_rollup). -#}

{{ usage_rollup('month') }}
