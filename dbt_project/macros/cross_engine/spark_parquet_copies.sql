{#- Spark only (on-run-end; no-ops elsewhere). docs/spark.md, "Python readers".

    Python reads Spark's marts through DuckDB over their Parquet files (usagebill/engine.py). A
    table has files; a view has none (Spark computes it at every query). So that the readers see
    Spark's views too (the exporters read staging.stg_catalog__customers, the invoice explainer
    staging.stg_catalog__plan_charges, ...), every view is copied, in this Spark session, to
    USAGEBILL_SPARK_DIR/views/<schema>.<name>/ when this run built it or anything it reads
    (directly or through other views): a copy is never older than the tables under it. -#}

{#- `select * from relation` written as Parquet files into folder (replacing what was there). -#}
{% macro copy_relation_to_parquet(relation, folder) -%}
    {%- do run_query("insert overwrite directory '" ~ folder ~ "' using parquet select * from " ~ relation) -%}
{%- endmacro %}

{% macro snapshot_spark_views(results) -%}
    {{ return(adapter.dispatch('snapshot_spark_views', 'usagebill')(results)) }}
{%- endmacro %}

{% macro default__snapshot_spark_views(results) -%}
    {{ return('') }}
{%- endmacro %}

{#- var spark_view_copies=false skips the copies (make spark-parity: it copies every relation itself). -#}
{% macro spark__snapshot_spark_views(results) -%}
    {%- if not execute or not var('spark_view_copies', true) -%}{{ return('') }}{%- endif -%}
    {%- set changed = [] -%}
    {%- for result in results -%}
        {%- if result.node.resource_type in ('model', 'seed', 'snapshot') and result.status == 'success' -%}
            {%- do changed.append(result.node.unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set views = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.config.materialized == 'view' -%}
            {%- do views.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- a view is stale when it or a node it reads changed: propagate through chains of views
        (at most one pass per view; no recursion) -#}
    {%- for _ in views -%}
        {%- set grew = [] -%}
        {%- for node in views if node.unique_id not in changed -%}
            {%- for parent in node.depends_on.nodes if parent in changed and node.unique_id not in changed -%}
                {%- do changed.append(node.unique_id) -%}
                {%- do grew.append(node.unique_id) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- if not grew -%}{%- break -%}{%- endif -%}
    {%- endfor -%}
    {%- set root = env_var('USAGEBILL_SPARK_DIR', '../warehouse/spark') ~ '/views/' -%}
    {%- set copied = [] -%}
    {%- for node in views if node.unique_id in changed -%}
        {%- set identifier = node.alias or node.name -%}
        {%- if adapter.get_relation(database=none, schema=node.schema, identifier=identifier) is not none -%}
            {%- do usagebill.copy_relation_to_parquet(node.schema ~ '.' ~ identifier, root ~ node.schema ~ '.' ~ identifier) -%}
            {%- do copied.append(node.schema ~ '.' ~ identifier) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ log('Spark views copied to Parquet for the Python readers: ' ~ (copied | length), info=true) }}
    {{ return('') }}
{%- endmacro %}

{#- on-run-end, Spark only, when var('export_parquet_dir') is set (make spark-parity): every model and
    seed copied to <dir>/<schema>.<name>/ as Parquet in this session, for DuckDB to compare. -#}
{% macro export_relations_to_parquet() -%}
    {%- set folder = var('export_parquet_dir', '') -%}
    {%- if not execute or not folder or target.type != 'spark' -%}{{ return('') }}{%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type in ('model', 'seed') and node.config.materialized != 'ephemeral' -%}
            {%- set name = node.schema ~ '.' ~ (node.alias or node.name) -%}
            {%- if adapter.get_relation(database=none, schema=node.schema, identifier=(node.alias or node.name)) is not none -%}
                {%- do usagebill.copy_relation_to_parquet(name, folder ~ '/' ~ name) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
