{{ stage_catalog_table(source('raw', 'catalog_currencies'), [
    'currency', 'minor_unit:integer',
]) }}
