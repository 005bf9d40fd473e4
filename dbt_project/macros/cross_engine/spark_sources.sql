{#- Spark only (on-run-start; no-ops elsewhere). docs/spark.md.

    check_spark_settings: money needs exact decimals (spark.sql.decimalOperations.allowPrecisionLoss
    = false; else products of DECIMAL(38,12) keep 6 decimals) and UTC session time. The run stops
    before any model when a setting is wrong (e.g. a cluster whose profile lost them).

    register_spark_sources: the loaders write Parquet files, which dbt-spark cannot read by path
    the way dbt-duckdb's external_location does. Every source is (re)registered as an external
    Parquet table in the metastore (once; schema inferred from the files: after a loader changes
    a file schema, `drop table` the source to register it again) and hive partitions are refreshed
    at the start of each run (MSCK REPAIR TABLE), so files and days loaded since are seen:
      - raw sources: the folder (or file) named by meta.external_location (globs cut at the first
        folder with a wildcard; schema and hive partitions inferred from the files);
      - ledger sources (transactional tables in DuckDB, exported to Parquet by
        usagebill.spark_sources before each Spark run): USAGEBILL_SPARK_DIR/ledger/<table>.
    A source with no Parquet file yet is dropped from the metastore instead (Spark cannot infer a
    schema from nothing): the staging models then select their typed empty row set, as on DuckDB.
    Dropping an external table never deletes its files. -#}

{% macro check_spark_settings() -%}
    {{ return(adapter.dispatch('check_spark_settings', 'usagebill')()) }}
{%- endmacro %}

{% macro default__check_spark_settings() -%}
    {{ return('') }}
{%- endmacro %}

{% macro spark__check_spark_settings() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set required = {
        'spark.sql.decimalOperations.allowPrecisionLoss': 'false',
        'spark.sql.session.timeZone': 'UTC',
    } -%}
    {%- for key, wanted in required.items() -%}
        {%- set value = run_query('set ' ~ key).columns[1].values()[0] -%}
        {%- if (value | string | lower) != wanted | lower -%}
            {{ exceptions.raise_compiler_error(
                'Spark setting ' ~ key ~ ' is ' ~ value ~ ', money needs ' ~ wanted
                ~ ': set it in the spark target of dbt_project/profiles.yml (server_side_parameters) '
                ~ 'or in the cluster configuration (docs/spark.md).'
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {{ log('Spark settings checked: exact decimals, UTC session time zone', info=false) }}
    {{ return('') }}
{%- endmacro %}

{#- (location, is_partitioned) of a source on Spark, or none when it has no Parquet location. -#}
{% macro spark_source_location(node) -%}
    {%- set external = node.meta.get('external_location') -%}
    {%- if external -%}
        {%- set text = external | trim -%}
        {%- if text.startswith('read_parquet(') -%}
            {%- set path = text.split("'")[1] -%}
        {%- else -%}
            {%- set path = text -%}
        {%- endif -%}
        {%- set kept = [] -%}
        {%- for part in path.split('/') -%}
            {%- if '*' in part -%}{%- break -%}{%- endif -%}
            {%- do kept.append(part) -%}
        {%- endfor -%}
        {%- do return((kept | join('/'), 'hive_partitioning = true' in text)) -%}
    {%- elif node.source_name == 'ledger' -%}
        {%- do return((env_var('USAGEBILL_SPARK_DIR', '../warehouse/spark') ~ '/ledger/' ~ node.identifier, false)) -%}
    {%- endif -%}
    {%- do return(none) -%}
{%- endmacro %}

{#- The Parquet files under `folder` as a table usagebill_meta.<name> (binaryFile format, listed
    again by every query; contents never read), and their paths now. -#}
{% macro spark_parquet_files(folder, name) -%}
    {%- do run_query('create schema if not exists usagebill_meta') -%}
    {%- do run_query('drop table if exists usagebill_meta.' ~ name) -%}
    {%- do run_query(
        'create table usagebill_meta.' ~ name ~ " using binaryFile options (recursiveFileLookup 'true', "
        ~ "pathGlobFilter '*.parquet') location '" ~ folder ~ "'"
    ) -%}
    {%- do return(run_query('select path from usagebill_meta.' ~ name).columns[0].values() | list) -%}
{%- endmacro %}

{#- The paths among `paths` that lie in (or are) `location`; relative locations
    ('../warehouse/raw/x') match on their absolute tail. -#}
{% macro spark_location_files(location, paths) -%}
    {%- set key = location.lstrip('.').rstrip('/') -%}
    {%- set found = [] -%}
    {%- for path in paths -%}
        {%- if path.endswith(key) or (key ~ '/') in path -%}{%- do found.append(path.split(key ~ '/') | last) -%}{%- endif -%}
    {%- endfor -%}
    {%- do return(found) -%}
{%- endmacro %}

{% macro register_spark_sources() -%}
    {{ return(adapter.dispatch('register_spark_sources', 'usagebill')()) }}
{%- endmacro %}

{% macro default__register_spark_sources() -%}
    {{ return('') }}
{%- endmacro %}

{% macro spark__register_spark_sources() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set spark_dir = env_var('USAGEBILL_SPARK_DIR', '../warehouse/spark') -%}
    {%- set raw_dir = env_var('USAGEBILL_RAW_DIR', '../warehouse/raw') -%}
    {%- set files = usagebill.spark_parquet_files(raw_dir, 'raw_files')
        + usagebill.spark_parquet_files(spark_dir ~ '/ledger', 'ledger_files') -%}
    {%- set registered = [] -%}
    {%- set schemas = [] -%}
    {%- for node in graph.sources.values() -%}
        {%- set found = usagebill.spark_source_location(node) -%}
        {%- if found is not none -%}
            {%- set location, partitioned = found -%}
            {%- set relation = node.schema ~ '.' ~ node.identifier -%}
            {%- set located = usagebill.spark_location_files(location, files) -%}
            {#- hive partition columns: the key=value folders above the files (e.g. arrival_date) -#}
            {%- set partition_columns = [] -%}
            {%- for relative in located -%}
                {%- for folder in relative.split('/')[:-1] -%}
                    {%- set name = folder.split('=')[0] -%}
                    {%- if '=' in folder and name not in partition_columns -%}{%- do partition_columns.append(name) -%}{%- endif -%}
                {%- endfor -%}
            {%- endfor -%}
            {%- if not partitioned -%}{%- set partition_columns = [] -%}{%- endif -%}
            {%- if node.schema not in schemas -%}
                {%- do run_query('create schema if not exists ' ~ node.schema) -%}
                {%- do schemas.append(node.schema) -%}
            {%- endif -%}
            {%- set exists = adapter.get_relation(database=none, schema=node.schema, identifier=node.identifier) is not none -%}
            {#- dbt's relation cache must follow every create/drop made here: the get_relation above
                cached this schema as it was, and staging models ask the cache (macro
                raw_with_schema) whether their source exists. Without this, the first run on a fresh
                metastore compiled every raw staging model to its empty row set (an empty journal in
                the first window, which looked like lost partitions in the second). -#}
            {%- set cached = api.Relation.create(database=none, schema=node.schema, identifier=node.identifier, type='table') -%}
            {%- if exists and not located -%}
                {%- do run_query('drop table ' ~ relation) -%}
                {%- do adapter.cache_dropped(cached) -%}
            {%- endif -%}
            {%- if located -%}
                {%- if not exists -%}
                    {#- schema and hive partitions inferred from the files -#}
                    {%- do run_query('create table ' ~ relation ~ " using parquet location '" ~ location ~ "'") -%}
                    {%- do adapter.cache_added(cached) -%}
                {%- endif -%}
                {#- Spark partitions the table only when the folder key is not also a file column (else
                    the files are listed at every query: new days are seen without a repair) -#}
                {%- if partition_columns and 'PARTITIONED BY' in (run_query('show create table ' ~ relation).columns[0].values()[0] | upper) -%}
                    {%- do run_query('msck repair table ' ~ relation) -%}
                {%- endif -%}
                {%- do registered.append(relation) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ log('Spark sources registered: ' ~ (registered | join(', ')), info=true) }}
    {{ return('') }}
{%- endmacro %}
