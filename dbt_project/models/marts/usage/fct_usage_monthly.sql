{{ partitioned_daily_config('usage_month') }}

{#- Usage per tenant, customer, meter, dimensions and month (see macro usage_rollup). -#}

{{ usage_rollup('month') }}
