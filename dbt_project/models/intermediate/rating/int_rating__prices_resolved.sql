{#- Every charge price in force for each subscription period: the plan version's price, replaced by
    the customer's contract price when one is in force at service_start. A contract price naming a
    dimension_value replaces only that dimensional price; one naming a plan_id wins over one that
    does not; then the latest effective_from. Usage charges billed monthly on quarterly/annual
    plans are resolved per usage month (int_rating__rating_periods). -#}

{%- set price_columns = ['price_model', 'amount', 'unit_price', 'unit_size', 'block_rounding', 'package_size', 'package_price',
    'included_units', 'rate', 'fixed_fee', 'free_events', 'free_amount', 'min_per_event', 'max_per_event'] -%}

with periods as (
    {#- billing periods, plus the usage months of plans that bill usage charges monthly -#}
    select * from {{ ref('int_rating__rating_periods') }}
),

-- the plan version's charges with their prices
plan_charges as (
    select
        price_id, plan_id, plan_version, charge_id, charge_name, charge_type, meter_id, billing_timing,
        usage_interval, dimension_name, dimension_value, {{ price_columns | join(', ') }}
    from {{ ref('stg_catalog__plan_charges') }}
),

-- a customer's negotiated prices, replacing a plan price while in force
contract_prices as (
    select
        price_id, contract_id, tenant_id, customer_id, charge_id, plan_id, dimension_value,
        effective_from, effective_to, {{ price_columns | join(', ') }}
    from {{ ref('stg_catalog__contract_prices') }}
),

plan_prices as (
    select
        periods.*,
        plan_charges.price_id as plan_price_id,
        plan_charges.charge_id,
        plan_charges.charge_name,
        plan_charges.charge_type,
        plan_charges.meter_id,
        plan_charges.billing_timing,
        plan_charges.usage_interval,
        plan_charges.dimension_name,
        plan_charges.dimension_value
    from periods
    inner join plan_charges
        on {{ columns_match('periods', 'plan_charges', ['plan_id', 'plan_version']) }}
            {# a usage month rates the charges billed monthly; the billing period all others #}
            and periods.is_usage_month = (
                plan_charges.charge_type = 'usage'
                and plan_charges.usage_interval = 'monthly'
                and periods.billing_period != 'monthly'
            )
),

contract_candidates as (
    {#- only the (few) rows with a contract of the customer on the charge: an equi-join first -#}
    select
        plan_prices.subscription_id,
        plan_prices.period_start,
        plan_prices.plan_price_id,
        contract_prices.price_id as contract_price_id,
        row_number() over (
            partition by plan_prices.subscription_id, plan_prices.period_start, plan_prices.plan_price_id
            order by
                case when contract_prices.dimension_value is not null then 0 else 1 end,
                case when contract_prices.plan_id is not null then 0 else 1 end,
                contract_prices.effective_from desc,
                contract_prices.price_id asc
        ) as preference
    from plan_prices
    inner join contract_prices
        on {{ columns_match('plan_prices', 'contract_prices', ['tenant_id', 'customer_id', 'charge_id']) }}
    where
        (contract_prices.plan_id is null or contract_prices.plan_id = plan_prices.plan_id)
        and (contract_prices.dimension_value is null or contract_prices.dimension_value = plan_prices.dimension_value)
        and contract_prices.effective_from <= plan_prices.service_start
        and (contract_prices.effective_to is null or contract_prices.effective_to > plan_prices.service_start)
),

final as (
    select
        plan_prices.*,
        coalesce(contract_prices.price_id, plan_charges.price_id) as price_id,
        case when contract_prices.price_id is null then 'plan' else 'contract' end as price_source,
        contract_prices.contract_id,
        {%- for column in price_columns %}
            case when contract_prices.price_id is null then plan_charges.{{ column }} else contract_prices.{{ column }} end
                as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from plan_prices
    inner join plan_charges
        on plan_prices.plan_price_id = plan_charges.price_id
    left join contract_candidates
        on {{ columns_match('plan_prices', 'contract_candidates', ['subscription_id', 'period_start', 'plan_price_id']) }}
            and contract_candidates.preference = 1
    left join contract_prices
        on contract_candidates.contract_price_id = contract_prices.price_id
)

select * from final
