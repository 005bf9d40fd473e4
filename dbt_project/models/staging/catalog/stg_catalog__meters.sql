{{ stage_catalog_table(source('raw', 'catalog_meters'), [
    'meter_id', 'name', 'unit', 'aggregation', 'value_property', 'unit_multiplier:amount',
    'unique_property', 'filters_json', 'group_by_json', 'group_by_1', 'group_by_2', 'group_by_3',
]) }}
