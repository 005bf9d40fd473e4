{{ config(schema='analytics') }}

{#- Cloud cost allocated to customers per month (see doc cost_allocation), reporting currency:
    - direct pools: to the customer the export names (allocation_method 'direct');
    - usage pools: pool cost x the customer's quantity in the pool / the pool's quantity
      ('usage'); a GPU-type pool is shared only by the usage of that GPU type, so a customer's
      cost carries the price of the type it used, never a blended rate;
    - shared pools: pool cost x the customer's revenue of the month / all customers' revenue of
      the month ('revenue_share'; revenue spread by service period, int_analytics__revenue_by_sku);
      a shared pool the export tags with a tenant is shared by that tenant's customers only.
    A customer is (tenant_id, customer_id) throughout.
    Cost of a pool nobody used (or of a month without revenue) stays unallocated: it is in
    fct_margin_monthly's unallocated_cost, not here. fixed / variable parts are allocated alike. -#}

with

pools as (
    select
        pool_id,
        month_start,
        pool_type,
        meter_id,
        dimension_name,
        dimension_value,
        tenant_id,
        customer_id,
        reporting_currency,
        variable_cost_reporting,
        fixed_cost_reporting,
        total_cost_reporting
    from {{ ref('int_analytics__cost_pools') }}
),

pool_usage as (
    select
        pool_id,
        tenant_id,
        customer_id,
        usage_quantity
    from {{ ref('int_analytics__pool_usage') }}
),

customer_revenue as (
    select
        tenant_id,
        customer_id,
        month_start,
        revenue_reporting
    from {{ ref('int_analytics__customer_revenue') }}
),

pool_totals as (
    select
        pool_id,
        sum(usage_quantity) as pool_quantity
    from pool_usage
    group by 1
),

shared_pool_customers as (
    select
        pools.pool_id,
        customer_revenue.tenant_id,
        customer_revenue.customer_id,
        customer_revenue.revenue_reporting
    from pools
    inner join customer_revenue
        on
            pools.month_start = customer_revenue.month_start
            and (pools.tenant_id is null or pools.tenant_id = customer_revenue.tenant_id)
    where pools.pool_type = 'shared'
),

shared_pool_revenue as (
    select
        pool_id,
        sum(revenue_reporting) as revenue_reporting
    from shared_pool_customers
    group by 1
),

shares as (
    select
        pool_usage.pool_id,
        pool_usage.tenant_id,
        pool_usage.customer_id,
        'usage' as allocation_method,
        pool_usage.usage_quantity as driver_quantity,
        pool_totals.pool_quantity as pool_driver_quantity
    from pool_usage
    inner join pool_totals
        on pool_usage.pool_id = pool_totals.pool_id
    union all
    select
        pools.pool_id,
        pools.tenant_id,
        pools.customer_id,
        'direct' as allocation_method,
        cast(1 as decimal(38, 12)) as driver_quantity,
        cast(1 as decimal(38, 12)) as pool_driver_quantity
    from pools
    where pools.pool_type = 'direct'
    union all
    select
        shared_pool_customers.pool_id,
        shared_pool_customers.tenant_id,
        shared_pool_customers.customer_id,
        'revenue_share' as allocation_method,
        shared_pool_customers.revenue_reporting as driver_quantity,
        shared_pool_revenue.revenue_reporting as pool_driver_quantity
    from shared_pool_customers
    inner join shared_pool_revenue
        on shared_pool_customers.pool_id = shared_pool_revenue.pool_id
),

final as (
    select
        {{ surrogate_key(['shares.pool_id', 'shares.tenant_id', 'shares.customer_id']) }} as customer_cost_id,
        shares.tenant_id,
        shares.customer_id,
        pools.month_start,
        pools.pool_id,
        pools.pool_type,
        shares.allocation_method,
        pools.meter_id,
        pools.dimension_name,
        pools.dimension_value,
        cast(shares.driver_quantity as decimal(38, 12)) as driver_quantity,
        cast(shares.pool_driver_quantity as decimal(38, 12)) as pool_driver_quantity,
        pools.reporting_currency,
        {#- cost x driver / pool driver, multiplied first (exact shares). DECIMAL(38,12) x DECIMAL(38,12)
            has scale 24 and overflows above 10^14, which a month's GPU milliseconds times a pool's cost
            reaches: a driver of a million units or more is taken at 6 decimals in the product
            (DECIMAL(38,12) x DECIMAL(38,6) holds 10^20; its relative error is below 10^-12), a
            smaller one (revenue spread by days, GB-hours) at its full 12 decimals. -#}
        {%- for column, alias in [('variable_cost_reporting', 'variable_cost_reporting'),
            ('fixed_cost_reporting', 'fixed_cost_reporting'), ('total_cost_reporting', 'cost_reporting')] %}
        {{ safe_divide(
            'case when abs(shares.driver_quantity) < 1000000 then '
            ~ decimal_multiply('pools.' ~ column, 'shares.driver_quantity')
            ~ ' else cast(cast(pools.' ~ column ~ ' as decimal(38, 12)) * cast(shares.driver_quantity as decimal(38, 6))'
            ~ ' as decimal(38, 12)) end',
            'shares.pool_driver_quantity'
        ) }} as {{ alias }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from shares
    inner join pools
        on shares.pool_id = pools.pool_id
    where shares.pool_driver_quantity != 0
)

select * from final
