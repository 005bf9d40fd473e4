{#- Use the folder's schema name as is (staging, intermediate, usage, billing, analytics, ...),
    not prefixed with the target schema, so analysts query billing.fct_invoices. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
