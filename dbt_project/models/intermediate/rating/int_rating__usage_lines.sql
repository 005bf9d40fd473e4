{#- One line per (subscription, period, usage charge price, group-by values).

    Price matching: a group is priced by the charge's dimensional price for its value of the
    charge's dimension, else by the charge's default price (dimension_value null).

    Cumulative ranges: the groups of one price are laid end to end in dimensions_json order; a
    group covers units [range_lo, range_hi) of the price's total. Included units are the first
    `included_units` of that total, tiers are ranges of it, so the amounts of the groups add up
    exactly to the amount of the total (and do not depend on how events were batched):
      billable range [b_lo, b_hi) = [max(range_lo - included, 0), max(range_hi - included, 0)),
                   each end rounded to whole blocks of unit_size per block_rounding (up: a started
                   block is a whole block; down: a partial block is free; none: exact), so the
                   lines add up to the price of the rounded total (Kill Bill block usage)
      per_unit   : (b_hi - b_lo) * unit_price / unit_size
      package    : (ceil(b_hi / package_size) - ceil(b_lo / package_size)) * package_price
      graduated  : per tier (lower_bound, up_to]: overlap of [b_lo, b_hi) with the tier
                   * tier unit_price / unit_size, + the tier's flat_fee on the group that enters it
      volume     : the tier holding the total billable quantity prices every unit
                   (* unit_price / unit_size), + its flat_fee once (on the first billable group)
      percentage : per event, see int_rating__transaction_fees -#}

with tiers as (
    select price_id, tier, lower_bound, up_to, unit_price, flat_fee
    from {{ ref('stg_catalog__charge_tiers') }}
),

-- percentage charges, rated per event
transaction_fees as (
    select subscription_id, period_start, price_id, dimensions_json, amount, fee_breakdown_json
    from {{ ref('int_rating__transaction_fees') }}
),

matched as (
    select * from {{ ref('int_rating__usage_priced') }}
),

ranged as (
    select
        matched.*,
        coalesce(sum(matched.quantity) over (
            partition by matched.subscription_id, matched.period_start, matched.price_id
            order by matched.dimensions_json
            rows between unbounded preceding and 1 preceding
        ), 0) as range_lo,
        sum(matched.quantity) over (
            partition by matched.subscription_id, matched.period_start, matched.price_id
        ) as price_total_quantity
    from matched
    where matched.price_model != 'percentage'
),

raw_billable as (
    select
        ranged.*,
        case when ranged.range_lo > ranged.included_units then ranged.range_lo - ranged.included_units
            else cast(0 as decimal(38, 12))
        end as raw_billable_lo,
        case when ranged.range_lo + ranged.quantity > ranged.included_units
                then ranged.range_lo + ranged.quantity - ranged.included_units
            else cast(0 as decimal(38, 12))
        end as raw_billable_hi,
        case when ranged.price_total_quantity > ranged.included_units
                then ranged.price_total_quantity - ranged.included_units
            else cast(0 as decimal(38, 12))
        end as raw_total_billable
    from ranged
),

blocks as (
    select
        raw_billable.*,
        floor({{ safe_divide('raw_billable.raw_billable_lo', 'raw_billable.unit_size') }}) as lo_blocks_floor,
        floor({{ safe_divide('raw_billable.raw_billable_hi', 'raw_billable.unit_size') }}) as hi_blocks_floor,
        floor({{ safe_divide('raw_billable.raw_total_billable', 'raw_billable.unit_size') }}) as total_blocks_floor
    from raw_billable
),

billable as (
    {#- block_rounding of the billable positions to whole blocks of unit_size: up (a started block
        counts as a whole one), down (a partial block is free), none (exact fraction) -#}
    {%- set positions = [('raw_billable_lo', 'lo_blocks_floor', 'billable_lo'),
        ('raw_billable_hi', 'hi_blocks_floor', 'billable_hi'),
        ('raw_total_billable', 'total_blocks_floor', 'price_total_billable')] %}
    select
        blocks.*,
        {%- for raw, floored, name in positions %}
        cast(case blocks.block_rounding
            when 'up' then {{ decimal_multiply(
                'blocks.' ~ floored ~ ' + case when ' ~ decimal_multiply('blocks.' ~ floored, 'blocks.unit_size')
                ~ ' < blocks.' ~ raw ~ ' then 1 else 0 end', 'blocks.unit_size') }}
            when 'down' then {{ decimal_multiply('blocks.' ~ floored, 'blocks.unit_size') }}
            else blocks.{{ raw }}
        end as decimal(38, 12)) as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from blocks
),

numerators as (
    {#- products and quotients as plain columns first: the exact division macro repeats its arguments -#}
    select
        billable.*,
        {{ decimal_multiply('billable.billable_hi - billable.billable_lo', 'billable.unit_price') }} as per_unit_numerator,
        floor({{ safe_divide('billable.billable_hi', 'billable.package_size') }}) as packages_hi_floor,
        floor({{ safe_divide('billable.billable_lo', 'billable.package_size') }}) as packages_lo_floor
    from billable
),

packaged as (
    select
        numerators.*,
        numerators.packages_hi_floor + case
            when {{ decimal_multiply('numerators.packages_hi_floor', 'numerators.package_size') }} < numerators.billable_hi
                then 1
            else 0
        end as packages_hi,
        numerators.packages_lo_floor + case
            when {{ decimal_multiply('numerators.packages_lo_floor', 'numerators.package_size') }} < numerators.billable_lo
                then 1
            else 0
        end as packages_lo
    from numerators
),

tier_amounts as (
    select
        billable.subscription_id,
        billable.period_start,
        billable.price_id,
        billable.dimensions_json,
        tiers.tier,
        tiers.unit_price as tier_unit_price,
        case
            when billable.price_model = 'graduated'
                then case
                        when (case when tiers.up_to is null or tiers.up_to > billable.billable_hi
                                then billable.billable_hi
                            else tiers.up_to
                        end)
                        > (case when tiers.lower_bound > billable.billable_lo then tiers.lower_bound
                            else billable.billable_lo
                        end)
                            then (case when tiers.up_to is null or tiers.up_to > billable.billable_hi
                                    then billable.billable_hi
                                else tiers.up_to
                            end)
                            - (case when tiers.lower_bound > billable.billable_lo then tiers.lower_bound
                                else billable.billable_lo
                            end)
                        else cast(0 as decimal(38, 12))
                    end
            else billable.billable_hi - billable.billable_lo
        end as tier_quantity,
        case
            when billable.price_model = 'graduated'
                and billable.billable_lo <= tiers.lower_bound and tiers.lower_bound < billable.billable_hi
                then tiers.flat_fee
            when billable.price_model = 'volume' and billable.billable_lo = 0 and billable.billable_hi > 0
                then tiers.flat_fee
            else cast(0 as decimal(38, 12))
        end as tier_flat_fee,
        billable.unit_size
    from billable
    inner join tiers
        on billable.price_id = tiers.price_id
    where
        billable.price_model = 'graduated'
        or (
            billable.price_model = 'volume'
            and billable.price_total_billable > tiers.lower_bound
            and (tiers.up_to is null or billable.price_total_billable <= tiers.up_to)
        )
),

tier_lines as (
    select
        subscription_id,
        period_start,
        price_id,
        dimensions_json,
        sum(tier_amount) as amount,
        '[' || {{ ordered_listagg(
            "'{\"tier\":' || cast(tier as " ~ dbt.type_string() ~ ") || ',\"quantity\":\"' || "
            ~ decimal_text('tier_quantity') ~ " || '\",\"unit_price\":\"' || " ~ decimal_text('tier_unit_price')
            ~ " || '\",\"unit_size\":\"' || " ~ decimal_text('unit_size')
            ~ " || '\",\"flat_fee\":\"' || " ~ decimal_text('tier_flat_fee')
            ~ " || '\",\"amount\":\"' || " ~ decimal_text('tier_amount') ~ " || '\"}'",
            "','", "tier") }} || ']' as tier_breakdown_json
    from (
        select
            tier_products.*,
            {{ safe_divide('tier_numerator', 'unit_size') }} + tier_flat_fee as tier_amount
        from (
            select
                tier_amounts.*,
                {{ decimal_multiply('tier_quantity', 'tier_unit_price') }} as tier_numerator
            from tier_amounts
            where tier_quantity > 0 or tier_flat_fee > 0
        ) as tier_products
    ) as nonzero_tiers
    group by subscription_id, period_start, price_id, dimensions_json
),

quantity_lines as (
    select
        packaged.*,
        case packaged.price_model
            when 'per_unit' then {{ safe_divide('packaged.per_unit_numerator', 'packaged.unit_size') }}
            when 'package' then {{ decimal_multiply('packaged.packages_hi - packaged.packages_lo', 'packaged.package_price') }}
            else coalesce(tier_lines.amount, cast(0 as decimal(38, 12)))
        end as line_amount,
        case packaged.price_model
            when 'per_unit' then {{ safe_divide('packaged.unit_price', 'packaged.unit_size') }}
            when 'package' then {{ safe_divide('packaged.package_price', 'packaged.package_size') }}
        end as unit_price_per_unit,
        tier_lines.tier_breakdown_json
    from packaged
    left join tier_lines
        on {{ columns_match('packaged', 'tier_lines', ['subscription_id', 'period_start', 'price_id', 'dimensions_json']) }}
),

percentage_lines as (
    select
        matched.*,
        transaction_fees.amount as line_amount,
        cast(null as decimal(38, 12)) as unit_price_per_unit,
        transaction_fees.fee_breakdown_json as tier_breakdown_json
    from matched
    inner join transaction_fees
        on {{ columns_match('matched', 'transaction_fees', ['subscription_id', 'period_start', 'price_id', 'dimensions_json']) }}
    where matched.price_model = 'percentage'
),

unioned as (
    {%- set line_columns = ['subscription_id', 'tenant_id', 'customer_id', 'plan_id', 'plan_version', 'currency', 'minor_unit',
        'period_start', 'period_end', 'service_start', 'service_end', 'charge_id', 'charge_name', 'meter_id',
        'price_id', 'price_source', 'price_model', 'billing_timing', 'dimensions_json', 'quantity', 'line_amount',
        'unit_price_per_unit', 'tier_breakdown_json'] %}
    select {{ line_columns | join(', ') }} from quantity_lines
    union all
    select {{ line_columns | join(', ') }} from percentage_lines
),

final as (
    select
        {{ rating_period_columns() }},
        charge_id,
        charge_name,
        'usage' as charge_type,
        meter_id,
        price_id,
        price_source,
        price_model,
        'usage' as line_type,
        billing_timing,
        dimensions_json,
        cast(quantity as decimal(38, 12)) as quantity,
        cast(unit_price_per_unit as decimal(38, 12)) as unit_price,
        tier_breakdown_json,
        cast(line_amount as decimal(38, 12)) as amount
    from unioned
)

select * from final
