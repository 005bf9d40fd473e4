{#- Every charge price in force for each subscription period: the plan version's price, replaced by
    the customer's contract price when one is in force at service_start. A contract price naming a
    dimension_value replaces only that dimensional price; one naming a plan_id wins over one that
    does not; then the latest effective_from. -#}

{%- set price_columns = ['price_model', 'amount', 'unit_price', 'unit_size', 'package_size', 'package_price',
    'included_units', 'rate', 'fixed_fee', 'free_events', 'free_amount', 'min_per_event', 'max_per_event'] -%}

with periods as (
    select * from {{ ref('int_rating__subscription_periods') }}
),

plan_charges as (
    select * from {{ ref('stg_catalog__plan_charges') }}
),

contract_prices as (
    select * from {{ ref('stg_catalog__contract_prices') }}
),

candidates as (
    select
        periods.subscription_id,
        periods.period_start,
        plan_charges.price_id as plan_price_id,
        contract_prices.price_id as contract_price_id,
        row_number() over (
            partition by periods.subscription_id, periods.period_start, plan_charges.price_id
            order by
                case when contract_prices.dimension_value is not null then 0 else 1 end,
                case when contract_prices.plan_id is not null then 0 else 1 end,
                contract_prices.effective_from desc,
                contract_prices.price_id
        ) as preference
    from periods
    inner join plan_charges
        on
            periods.plan_id = plan_charges.plan_id
            and periods.plan_version = plan_charges.plan_version
    left join contract_prices
        on
            periods.customer_id = contract_prices.customer_id
            and plan_charges.charge_id = contract_prices.charge_id
            and (contract_prices.plan_id is null or contract_prices.plan_id = periods.plan_id)
            and (contract_prices.dimension_value is null or contract_prices.dimension_value = plan_charges.dimension_value)
            and contract_prices.effective_from <= periods.service_start
            and (contract_prices.effective_to is null or contract_prices.effective_to > periods.service_start)
),

final as (
    select
        periods.*,
        plan_charges.charge_id,
        plan_charges.charge_name,
        plan_charges.charge_type,
        plan_charges.meter_id,
        plan_charges.billing_timing,
        plan_charges.dimension_name,
        plan_charges.dimension_value,
        coalesce(contract_prices.price_id, plan_charges.price_id) as price_id,
        case when contract_prices.price_id is null then 'plan' else 'contract' end as price_source,
        contract_prices.contract_id,
        {%- for column in price_columns %}
        case when contract_prices.price_id is null then plan_charges.{{ column }} else contract_prices.{{ column }} end
            as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from candidates
    inner join periods
        on
            candidates.subscription_id = periods.subscription_id
            and candidates.period_start = periods.period_start
    inner join plan_charges
        on candidates.plan_price_id = plan_charges.price_id
    left join contract_prices
        on candidates.contract_price_id = contract_prices.price_id
    where candidates.preference = 1
)

select * from final
