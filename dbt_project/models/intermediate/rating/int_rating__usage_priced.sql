{#- Each usage group (subscription, period, meter, group-by values) with the price that rates it,
    for every usage charge of the plan on that meter: the dimensional price for the group's value
    of the charge's dimension, else the charge's default price. Groups no price matches are not
    billed (a dimensional charge without a default price). -#}

with quantities as (
    select * from {{ ref('int_rating__usage_quantities') }}
),

prices as (
    select * from {{ ref('int_rating__prices_resolved') }}
    where charge_type = 'usage' and is_ended
),

candidates as (
    select
        quantities.dimensions_json,
        quantities.group_value_1,
        quantities.group_value_2,
        quantities.group_value_3,
        quantities.event_count,
        quantities.quantity,
        prices.*,
        row_number() over (
            partition by
                quantities.subscription_id, quantities.period_start, quantities.meter_id,
                quantities.dimensions_json, prices.charge_id
            order by case when prices.dimension_value is null then 1 else 0 end, prices.price_id
        ) as preference
    from quantities
    inner join prices
        on {{ columns_match('quantities', 'prices', ['subscription_id', 'period_start', 'meter_id']) }}
            and (
                prices.dimension_value is null
                or prices.dimension_value = case prices.dimension_name
                    when quantities.group_by_1 then quantities.group_value_1
                    when quantities.group_by_2 then quantities.group_value_2
                    when quantities.group_by_3 then quantities.group_value_3
                end
            )
),

final as (
    select * from candidates
    where preference = 1
)

select * from final
