{{ partitioned_daily_config('usage_date') }}

{#- Usage per tenant, customer, meter, dimensions and day (see macro usage_rollup). -#}

{{ usage_rollup('day') }}
