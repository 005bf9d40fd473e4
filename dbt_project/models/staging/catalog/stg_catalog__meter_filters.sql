{{ stage_catalog_table(source('raw', 'catalog_meter_filters'), [
    'meter_id', 'dimension', 'value',
]) }}
