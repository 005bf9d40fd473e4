{{ stage_catalog_table(source('raw', 'catalog_plan_versions'), [
    'plan_id', 'plan_version:integer', 'effective_from:date', 'effective_to:date',
]) }}
