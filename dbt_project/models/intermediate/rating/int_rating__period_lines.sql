{#- All lines of each subscription period before prepaid credits, in the documented application
    order (application_step):
      1 recurring_fee / proration   2 trial_credit (trial days of recurring fees)   3 usage
      4 trial_credit (free-trial usage allowance)   5 discount   6 commitment_true_up
    Each line is rounded once (half-up, currency minor unit); later steps use rounded amounts:
    - trial usage allowance: -min(allowance left, this period's usage lines), allowance used in
      period order;
    - discount (per billing_timing): percentage = -percent/100 * eligible lines; fixed = -min(amount,
      eligible lines), in-advance lines first then in-arrears; eligible = applies_to (recurring:
      steps 1-2, usage: steps 3-4, all: both); several discounts each apply to the same base;
      duration counted in billing periods ending after the discount's start_date;
    - commitment true-up (ended periods): max(0, commitment * service_days / period_days (rounded)
      - sum of steps 1-5 of the period). -#}

with periods as (
    {#- billing periods and usage months (int_rating__rating_periods); a period is (subscription,
        period_start, period_end): a usage month starts on its billing period's first day -#}
    select * from {{ ref('int_rating__rating_periods') }}
),

recurring_lines as (
    select * from {{ ref('int_rating__recurring_lines') }}
),

usage_lines as (
    select * from {{ ref('int_rating__usage_lines') }}
),

discounts as (
    select
        discount_id, name, tenant_id, customer_id, subscription_id, plan_id, applies_to, discount_type,
        percent, amount, duration, duration_periods, start_date
    from {{ ref('stg_catalog__discounts') }}
),

-- minimum spends per billing period (true-up lines)
commitments as (
    select commitment_id, subscription_id, plan_id, amount, effective_from, effective_to
    from {{ ref('stg_catalog__commitments') }}
),

charge_lines as (
    select
        recurring_lines.*,
        case when line_type = 'trial_credit' then 2 else 1 end as application_step
    from recurring_lines
    union all
    select
        usage_lines.*,
        3 as application_step
    from usage_lines
),

charge_lines_rounded as (
    select
        charge_lines.*,
        {{ round_money('charge_lines.amount', 'charge_lines.minor_unit') }} as amount_rounded
    from charge_lines
),

usage_totals as (
    select
        periods.subscription_id,
        periods.period_start,
        periods.period_end,
        periods.trial_usage_amount,
        coalesce(sum(charge_lines_rounded.amount_rounded), 0) as usage_total
    from periods
    left join charge_lines_rounded
        on {{ columns_match('periods', 'charge_lines_rounded', ['subscription_id', 'period_start', 'period_end']) }}
            and charge_lines_rounded.application_step = 3
    where periods.is_ended and periods.trial_usage_amount is not null
    group by periods.subscription_id, periods.period_start, periods.period_end, periods.trial_usage_amount
),

trial_allowance as (
    select
        usage_totals.*,
        usage_totals.trial_usage_amount - coalesce(sum(case when usage_totals.usage_total > 0
                then usage_totals.usage_total
            else 0
        end) over (
            partition by usage_totals.subscription_id
            order by usage_totals.period_start, usage_totals.period_end
            rows between unbounded preceding and 1 preceding
        ), 0) as allowance_left
    from usage_totals
),

trial_usage_credits as (
    select
        {{ rating_period_columns('periods') }},
        'trial_usage' as charge_id,
        'Free trial usage allowance' as charge_name,
        {{ period_line_kind_columns("'usage'", "'plan'", "'trial_allowance'", "'trial_credit'") }},
        cast(null as decimal(38, 12)) as unit_price,
        cast(null as {{ dbt.type_string() }}) as tier_breakdown_json,
        cast(-1 * case when trial_allowance.allowance_left < trial_allowance.usage_total
                then trial_allowance.allowance_left
            else trial_allowance.usage_total
        end as decimal(38, 12)) as amount,
        4 as application_step
    from trial_allowance
    inner join periods
        on {{ columns_match('trial_allowance', 'periods', ['subscription_id', 'period_start', 'period_end']) }}
    where trial_allowance.allowance_left > 0 and trial_allowance.usage_total > 0
),

base_lines as (
    select * from charge_lines_rounded
    union all
    select
        trial_usage_credits.*,
        {{ round_money('trial_usage_credits.amount', 'trial_usage_credits.minor_unit') }} as amount_rounded
    from trial_usage_credits
),

subtotals as (
    select
        subscription_id,
        period_start,
        period_end,
        sum(case when billing_timing = 'in_advance' and application_step in (1, 2) then amount_rounded else 0 end)
            as advance_recurring,
        sum(case when billing_timing = 'in_advance' and application_step in (3, 4) then amount_rounded else 0 end)
            as advance_usage,
        sum(case when billing_timing = 'in_arrears' and application_step in (1, 2) then amount_rounded else 0 end)
            as arrears_recurring,
        sum(case when billing_timing = 'in_arrears' and application_step in (3, 4) then amount_rounded else 0 end)
            as arrears_usage
    from base_lines
    group by subscription_id, period_start, period_end
),

discount_periods as (
    select
        periods.*,
        discounts.discount_id,
        discounts.name as discount_name,
        discounts.discount_type,
        discounts.percent,
        discounts.amount as discount_amount,
        discounts.applies_to,
        discounts.duration,
        discounts.duration_periods,
        {# durations count billing periods (the usage months of one share its number) #}
        dense_rank() over (
            partition by periods.subscription_id, discounts.discount_id
            order by periods.billing_period_start
        ) as discount_period_number
    from periods
    inner join discounts
        on
            (
                (periods.tenant_id = discounts.tenant_id and periods.customer_id = discounts.customer_id)
                or periods.subscription_id = discounts.subscription_id
                or periods.plan_id = discounts.plan_id
            )
            and periods.period_end > coalesce(discounts.start_date, periods.start_date)
            {# a fixed amount is off each billing period once, not off each usage month too #}
            and (not periods.is_usage_month or discounts.discount_type = 'percentage')
),

discount_bases as (
    select
        discount_periods.*,
        case discount_periods.applies_to
            when 'recurring' then subtotals.advance_recurring
            when 'usage' then subtotals.advance_usage
            else subtotals.advance_recurring + subtotals.advance_usage
        end as advance_eligible,
        case discount_periods.applies_to
            when 'recurring' then subtotals.arrears_recurring
            when 'usage' then subtotals.arrears_usage
            else subtotals.arrears_recurring + subtotals.arrears_usage
        end as arrears_eligible
    from discount_periods
    inner join subtotals
        on {{ columns_match('discount_periods', 'subtotals', ['subscription_id', 'period_start', 'period_end']) }}
    where discount_periods.duration = 'forever' or discount_periods.discount_period_number <= discount_periods.duration_periods
),

discount_amounts as (
    select
        discount_bases.*,
        'in_advance' as billing_timing,
        case
            when discount_type = 'percentage'
                then -1 * {{ safe_divide(decimal_multiply('advance_eligible', 'percent'), '100') }}
            when advance_eligible <= 0 then cast(0 as decimal(38, 12))
            when discount_amount < advance_eligible then -1 * discount_amount
            else -1 * advance_eligible
        end as amount
    from discount_bases
    union all
    select
        discount_bases.*,
        'in_arrears' as billing_timing,
        case
            when not is_ended then cast(0 as decimal(38, 12))
            when discount_type = 'percentage'
                then -1 * {{ safe_divide(decimal_multiply('arrears_eligible', 'percent'), '100') }}
            when arrears_eligible <= 0 then cast(0 as decimal(38, 12))
            when discount_amount - (case when advance_eligible <= 0 then 0
                    when discount_amount < advance_eligible then discount_amount else advance_eligible
                end)
                < arrears_eligible
                then -1 * (discount_amount - (case when advance_eligible <= 0 then 0
                        when discount_amount < advance_eligible then discount_amount else advance_eligible
                    end))
            else -1 * arrears_eligible
        end as amount
    from discount_bases
),

discount_lines as (
    select
        {{ rating_period_columns() }},
        discount_id as charge_id,
        discount_name as charge_name,
        {{ period_line_kind_columns("'adjustment'", "'discount'", 'discount_type', "'discount'", 'billing_timing') }},
        cast(case when discount_type = 'percentage' then percent end as decimal(38, 12)) as unit_price,
        cast(null as {{ dbt.type_string() }}) as tier_breakdown_json,
        cast(amount as decimal(38, 12)) as amount,
        5 as application_step,
        {{ round_money('amount', 'minor_unit') }} as amount_rounded
    from discount_amounts
    where amount != 0
),

discounted_lines as (
    select * from base_lines
    union all
    select * from discount_lines
),

period_net as (
    {#- per billing period, its usage months included -#}
    select
        periods.subscription_id,
        periods.billing_period_start,
        sum(discounted_lines.amount_rounded) as net_amount
    from discounted_lines
    inner join periods
        on {{ columns_match('discounted_lines', 'periods', ['subscription_id', 'period_start', 'period_end']) }}
    group by periods.subscription_id, periods.billing_period_start
),

true_ups as (
    select
        {{ rating_period_columns('periods') }},
        commitments.commitment_id as charge_id,
        'Minimum commitment true-up' as charge_name,
        {{ period_line_kind_columns("'adjustment'", "'commitment'", "'minimum_commitment'", "'commitment_true_up'") }},
        {{ round_money(safe_divide(decimal_multiply('commitments.amount', 'periods.service_days'), 'periods.period_days'),
            'periods.minor_unit') }} as unit_price,
        cast(null as {{ dbt.type_string() }}) as tier_breakdown_json,
        coalesce(period_net.net_amount, 0) as net_amount
    from periods
    inner join commitments
        on
            (periods.subscription_id = commitments.subscription_id or periods.plan_id = commitments.plan_id)
            and (commitments.effective_from is null or periods.service_start >= commitments.effective_from)
            and (commitments.effective_to is null or periods.service_start < commitments.effective_to)
    left join period_net
        on
            periods.subscription_id = period_net.subscription_id
            and periods.period_start = period_net.billing_period_start
    where periods.is_ended and not periods.is_usage_month
),

true_up_lines as (
    select
        {{ rating_period_columns() }},
        charge_id,
        charge_name,
        charge_type,
        meter_id,
        price_id,
        price_source,
        price_model,
        line_type,
        billing_timing,
        dimensions_json,
        quantity,
        unit_price,
        tier_breakdown_json,
        cast(unit_price - net_amount as decimal(38, 12)) as amount,
        6 as application_step,
        cast(unit_price - net_amount as decimal(38, 12)) as amount_rounded
    from true_ups
    where unit_price > net_amount
),

final as (
    select * from discounted_lines
    union all
    select * from true_up_lines
)

select * from final
