{#- The configuration of an incremental usage table rebuilt one day at a time (tag partitioned_daily:
    Dagster runs it per daily partition, dagster_project/ and docs/spark.md). `partition_column` is
    the DATE column whose days (or months) a run replaces:
    - DuckDB: delete+insert on that column (the days of the batch are deleted, then inserted);
    - Spark: a Parquet table partitioned by that column, insert_overwrite (the partitions of the
      batch are overwritten).
    Call it at the top of the model: {{ partitioned_daily_config('usage_date') }}. -#}
{% macro partitioned_daily_config(partition_column) -%}
    {%- set is_spark = target.type == 'spark' -%}
    {{ config(
        materialized='incremental',
        schema='usage',
        tags=['partitioned_daily'],
        incremental_strategy=('insert_overwrite' if is_spark else 'delete+insert'),
        unique_key=(none if is_spark else partition_column),
        partition_by=(partition_column if is_spark else none),
        file_format=('parquet' if is_spark else none),
        on_schema_change='fail',
    ) }}
{%- endmacro %}
