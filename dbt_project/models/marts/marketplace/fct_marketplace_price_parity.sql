{{ config(materialized='table', schema='marketplace') }}

{#- Price parity: each marketplace dimension's price per marketplace unit against the usagebill
    catalog's per-unit price of the same meter on each plan the offering covers, converted to the
    marketplace unit:  catalog price per marketplace unit = unit_price / unit_size x meter_units_per_unit.
    difference_pct = (marketplace price - catalog price) / catalog price x 100; a row is flagged when
    |difference_pct| exceeds the configured tolerance (parity_tolerance_pct). Comparing every channel to
    the catalog also compares the channels with each other. -#}

with dimensions as (
    select
        marketplace,
        offering_id,
        dimension,
        meter_id,
        plan_id,
        unit,
        currency,
        unit_price,
        meter_units_per_unit
    from {{ ref('stg_marketplace__dimensions') }}
),

fees as (
    select max(parity_tolerance_pct) as tolerance_pct from {{ ref('stg_marketplace__fees') }}
),

plan_charges as (
    select
        plan_id,
        plan_version,
        meter_id,
        unit_price,
        unit_size
    from {{ ref('stg_catalog__plan_charges') }}
    where charge_type = 'usage' and price_model = 'per_unit' and dimension_value is null
),

compared as (
    select
        dimensions.marketplace,
        dimensions.offering_id,
        dimensions.dimension,
        dimensions.meter_id,
        dimensions.plan_id,
        plan_charges.plan_version,
        dimensions.unit,
        dimensions.currency,
        dimensions.unit_price as marketplace_price,
        dimensions.meter_units_per_unit,
        {{ price_times('dimensions.meter_units_per_unit', 'plan_charges.unit_price', 'plan_charges.unit_size') }}
            as catalog_price
    from dimensions
    left join plan_charges
        on
            {{ keys_match(['plan_id', 'meter_id'], 'dimensions', 'plan_charges') }}
),

final as (
    select
        compared.*,
        {{ parity_difference_pct('compared.marketplace_price', 'compared.catalog_price') }} as difference_pct,
        fees.tolerance_pct,
        {{ parity_status('compared.marketplace_price', 'compared.catalog_price', 'fees.tolerance_pct') }}
            as parity_status
    from compared
    cross join fees
)

select * from final
