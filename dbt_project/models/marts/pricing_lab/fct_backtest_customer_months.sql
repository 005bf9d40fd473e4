{{ config(materialized='table', schema='pricing_lab') }}

{#- What each customer was billed against what a candidate price book would have billed, per
    candidate, tenant, customer, plan, month (of the billing period's start) and currency, over the
    candidate's back-test window [window_start, window_end) (recorded with its lines). Both sides are sums of rounded billing lines
    (billing.fct_billing_lines and the candidate's lines from the same rating models), so a candidate
    identical to the current price book differs by exactly 0.
    difference = candidate_total - billed_total; difference_pct = difference / billed_total x 100
    (null when nothing was billed); exceeds_threshold when |difference_pct| > var('pricing_lab_threshold_pct')
    or when a customer billed nothing would now pay something. -#}

{%- set threshold = var('pricing_lab_threshold_pct', '10') -%}

with

{#- the candidate's lines come from the same rating models as the billed ones: same columns -#}
{%- set line_columns = ['tenant_id', 'customer_id', 'plan_id', 'period_start', 'currency', 'amount_rounded'] %}

candidate_lines as (
    select
        candidate,
        window_start,
        window_end,
        {{ line_columns | join(',\n        ') }}
    from {{ ref('stg_pricing_lab__candidate_lines') }}
),

billed_lines as (
    select
        {{ line_columns | join(',\n        ') }}
    from {{ ref('fct_billing_lines') }}
),

candidates as (
    select distinct
        candidate,
        window_start,
        window_end
    from candidate_lines
),

billed as (
    select
        candidates.candidate,
        billed_lines.tenant_id,
        billed_lines.customer_id,
        coalesce(billed_lines.plan_id, '') as plan_id,
        cast({{ trunc_to('month', 'billed_lines.period_start') }} as date) as month_start,
        billed_lines.currency,
        sum(billed_lines.amount_rounded) as billed_total
    from billed_lines
    inner join candidates
        on
            billed_lines.period_start >= candidates.window_start
            and billed_lines.period_start < candidates.window_end
    group by 1, 2, 3, 4, 5, 6
),

candidate_totals as (
    select
        candidate,
        tenant_id,
        customer_id,
        coalesce(plan_id, '') as plan_id,
        cast({{ trunc_to('month', 'period_start') }} as date) as month_start,
        currency,
        sum(amount_rounded) as candidate_total
    from candidate_lines
    group by 1, 2, 3, 4, 5, 6
),

{%- set keys = ['candidate', 'tenant_id', 'customer_id', 'plan_id', 'month_start', 'currency'] %}

joined as (
    select
        {{ coalesce_keys(keys, 'billed', 'candidate_totals') }},
        {{ zero_filled('billed', ['billed_total']) }},
        {{ zero_filled('candidate_totals', ['candidate_total']) }}
    from billed
    full outer join candidate_totals
        on
            {{ keys_match(keys, 'billed', 'candidate_totals') }}
),

final as (
    select
        {{ keys | join(',\n        ') }},
        billed_total,
        candidate_total,
        cast(candidate_total - billed_total as decimal(38, 12)) as difference,
        cast(case
            when billed_total != 0 then (candidate_total - billed_total) / billed_total * 100
        end as decimal(38, 6)) as difference_pct,
        case
            when candidate_total > billed_total then 'increase'
            when candidate_total < billed_total then 'decrease'
            else 'unchanged'
        end as change_direction,
        coalesce(
            billed_total = 0 and candidate_total != 0
            or abs(candidate_total - billed_total) * 100 > abs(billed_total) * cast('{{ threshold }}' as decimal(38, 12)),
            false
        ) as exceeds_threshold
    from joined
)

select * from final
