{#- Prepaid credits burned against each invoice point of a customer, in time order.
    An invoice point (a "demand") is one subscription period and billing timing: in_advance lines
    are due at service_start, in_arrears lines at period_end; its amount is the sum of its rounded
    lines (after discounts and true-ups) when positive. Demands are served in order of due date
    (in-arrears before in-advance on the same day, then subscription_id).
    A grant can pay a demand when granted_at <= due date < expires_at and it is in the demand's
    currency. Burn order (documented in docs/pricing.md): earliest expiry first (never-expiring
    last), then oldest grant (granted_at), then grant_id.
    Set-based, no recursion (every engine, Spark included), no cap on demands per customer: a demand
    takes from its eligible grants in burn order, so what grant r uses depends only on the grants
    ranked before it. One step per burn rank (as many as the most grants a customer holds in one
    currency, read from the data at compile time): grant r serves the demands' residuals (after ranks
    < r) inside its window as a running allocation in demand order:
        used(r, d) = max(0, min(residual(d), amount(r) - sum of residual(d') over eligible d' < d))
    which is exactly what walking the demands one by one gives. -#}

{%- set max_rank = 1 -%}
{%- set grants_relation = ref('stg_catalog__credit_grants') -%}
{%- if execute and adapter.get_relation(
        database=grants_relation.database, schema=grants_relation.schema, identifier=grants_relation.identifier
    ) is not none -%}
    {%- set counted = run_query(
        'select max(n) from (select count(*) as n from ' ~ grants_relation
        ~ ' group by customer_id, currency) as per_customer'
    ).columns[0].values()[0] -%}
    {%- set max_rank = (counted or 1) | int -%}
{%- endif %}

with

lines as (
    select * from {{ ref('int_rating__period_lines') }}
),

grants as (
    select * from {{ ref('stg_catalog__credit_grants') }}
),

customers_with_grants as (
    select distinct customer_id from grants
),

demands as (
    select
        lines.customer_id,
        lines.currency,
        lines.subscription_id,
        lines.period_start,
        lines.billing_timing,
        case when lines.billing_timing = 'in_advance' then min(lines.service_start) else min(lines.period_end) end
            as due_date,
        sum(lines.amount_rounded) as demand_amount
    from lines
    inner join customers_with_grants
        on lines.customer_id = customers_with_grants.customer_id
    group by lines.customer_id, lines.currency, lines.subscription_id, lines.period_start, lines.billing_timing
    having sum(lines.amount_rounded) > 0
),

numbered_demands as (
    select
        demands.*,
        row_number() over (
            partition by demands.customer_id, demands.currency
            order by
                demands.due_date,
                case when demands.billing_timing = 'in_arrears' then 0 else 1 end,
                demands.subscription_id,
                demands.period_start
        ) as demand_number
    from demands
),

ranked_grants as (
    select
        grants.*,
        row_number() over (
            partition by grants.customer_id, grants.currency
            order by
                case when grants.expires_at is null then 1 else 0 end,
                grants.expires_at,
                grants.granted_at,
                grants.grant_id
        ) as burn_rank
    from grants
),

residual_1 as (
    select
        numbered_demands.customer_id,
        numbered_demands.currency,
        numbered_demands.demand_number,
        numbered_demands.due_date,
        cast(numbered_demands.demand_amount as decimal(38, 12)) as residual
    from numbered_demands
),

{% for rank in range(1, max_rank + 1) -%}
windowed_{{ rank }} as (
    select
        residual_{{ rank }}.*,
        ranked_grants.grant_id,
        ranked_grants.burn_rank,
        ranked_grants.granted_at,
        ranked_grants.expires_at,
        cast(ranked_grants.amount as decimal(38, 12)) as grant_amount,
        (
            ranked_grants.granted_at <= residual_{{ rank }}.due_date
            and (ranked_grants.expires_at is null or ranked_grants.expires_at > residual_{{ rank }}.due_date)
        ) as is_eligible
    from residual_{{ rank }}
    inner join ranked_grants
        on
            residual_{{ rank }}.customer_id = ranked_grants.customer_id
            and residual_{{ rank }}.currency = ranked_grants.currency
            and ranked_grants.burn_rank = {{ rank }}
),

used_{{ rank }} as (
    select
        windowed.*,
        case
            when not windowed.is_eligible then cast(0 as decimal(38, 12))
            else cast(greatest(cast(0 as decimal(38, 12)), least(
                windowed.residual,
                windowed.grant_amount - coalesce(sum(case when windowed.is_eligible then windowed.residual end) over (
                    partition by windowed.customer_id, windowed.currency
                    order by windowed.demand_number
                    rows between unbounded preceding and 1 preceding
                ), 0)
            )) as decimal(38, 12))
        end as used
    from windowed_{{ rank }} as windowed
),

residual_{{ rank + 1 }} as (
    select
        residual_{{ rank }}.customer_id,
        residual_{{ rank }}.currency,
        residual_{{ rank }}.demand_number,
        residual_{{ rank }}.due_date,
        cast(residual_{{ rank }}.residual - coalesce(used_{{ rank }}.used, 0) as decimal(38, 12)) as residual
    from residual_{{ rank }}
    left join used_{{ rank }}
        on
            residual_{{ rank }}.customer_id = used_{{ rank }}.customer_id
            and residual_{{ rank }}.currency = used_{{ rank }}.currency
            and residual_{{ rank }}.demand_number = used_{{ rank }}.demand_number
),

{% endfor -%}
all_used as (
    {%- for rank in range(1, max_rank + 1) %}
    select
        customer_id,
        currency,
        grant_id,
        burn_rank,
        granted_at,
        expires_at,
        demand_number,
        grant_amount,
        used
    from used_{{ rank }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

burn as (
    select
        all_used.customer_id,
        all_used.currency,
        all_used.grant_id,
        all_used.burn_rank,
        all_used.granted_at,
        all_used.expires_at,
        cast(all_used.demand_number as bigint) as demand_number,
        cast(all_used.grant_amount - sum(all_used.used) over (
            partition by all_used.customer_id, all_used.currency, all_used.grant_id
            order by all_used.demand_number
            rows between unbounded preceding and current row
        ) as decimal(38, 12)) as remaining,
        all_used.used
    from all_used
),

final as (
    select
        burn.customer_id,
        burn.currency,
        burn.grant_id,
        burn.burn_rank,
        burn.granted_at,
        burn.expires_at,
        burn.demand_number,
        numbered_demands.subscription_id,
        numbered_demands.period_start,
        numbered_demands.billing_timing,
        numbered_demands.due_date,
        burn.used,
        burn.remaining as remaining_after
    from burn
    inner join numbered_demands
        on
            burn.customer_id = numbered_demands.customer_id
            and burn.currency = numbered_demands.currency
            and burn.demand_number = numbered_demands.demand_number
)

select * from final
