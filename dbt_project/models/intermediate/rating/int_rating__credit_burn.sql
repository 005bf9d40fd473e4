{#- Prepaid credits burned against each invoice point of a customer, in time order.
    An invoice point (a "demand") is one subscription period and billing timing: in_advance lines
    are due at service_start, in_arrears lines at period_end; its amount is the sum of its rounded
    lines (after discounts and true-ups) when positive. Demands are served in order of due date
    (in-arrears before in-advance on the same day, then subscription_id).
    A grant can pay a demand when granted_at <= due date < expires_at and it is in the demand's
    currency. Burn order (documented in docs/pricing.md): earliest expiry first (never-expiring
    last), then oldest grant (granted_at), then grant_id.
    A recursive CTE walks the demands of each customer one by one, carrying every grant's
    remaining balance (DuckDB, PostgreSQL; Spark >= 4.1 for recursive CTEs). -#}

with recursive lines as (
    select * from {{ ref('int_rating__period_lines') }}
),

grants as (
    select * from {{ ref('stg_catalog__credit_grants') }}
),

customers_with_grants as (
    select distinct tenant_id, customer_id from grants
),

demands as (
    select
        lines.tenant_id,
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
        on
            lines.tenant_id = customers_with_grants.tenant_id
            and lines.customer_id = customers_with_grants.customer_id
    group by lines.tenant_id, lines.customer_id, lines.currency, lines.subscription_id, lines.period_start, lines.billing_timing
    having sum(lines.amount_rounded) > 0
),

numbered_demands as (
    select
        demands.*,
        row_number() over (
            partition by demands.tenant_id, demands.customer_id, demands.currency
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
            partition by grants.tenant_id, grants.customer_id, grants.currency
            order by
                case when grants.expires_at is null then 1 else 0 end,
                grants.expires_at,
                grants.granted_at,
                grants.grant_id
        ) as burn_rank
    from grants
),

burn as (
    select
        ranked_grants.tenant_id,
        ranked_grants.customer_id,
        ranked_grants.currency,
        ranked_grants.grant_id,
        ranked_grants.burn_rank,
        ranked_grants.granted_at,
        ranked_grants.expires_at,
        cast(0 as bigint) as demand_number,
        cast(ranked_grants.amount as decimal(38, 12)) as remaining,
        cast(0 as decimal(38, 12)) as used
    from ranked_grants
    union all
    select
        step.tenant_id,
        step.customer_id,
        step.currency,
        step.grant_id,
        step.burn_rank,
        step.granted_at,
        step.expires_at,
        step.demand_number,
        cast(step.remaining - step.used_now as decimal(38, 12)) as remaining,
        cast(step.used_now as decimal(38, 12)) as used
    from (
        select
            eligible.*,
            case
                when not eligible.is_eligible then cast(0 as decimal(38, 12))
                when eligible.demand_amount - eligible.available_before <= 0 then cast(0 as decimal(38, 12))
                when eligible.demand_amount - eligible.available_before < eligible.remaining
                    then eligible.demand_amount - eligible.available_before
                else eligible.remaining
            end as used_now
        from (
            select
                burn.tenant_id,
                burn.customer_id,
                burn.currency,
                burn.grant_id,
                burn.burn_rank,
                burn.granted_at,
                burn.expires_at,
                numbered_demands.demand_number,
                numbered_demands.demand_amount,
                burn.remaining,
                burn.remaining > 0
                and burn.granted_at <= numbered_demands.due_date
                and (burn.expires_at is null or burn.expires_at > numbered_demands.due_date) as is_eligible,
                coalesce(sum(
                    case
                        when burn.remaining > 0
                            and burn.granted_at <= numbered_demands.due_date
                            and (burn.expires_at is null or burn.expires_at > numbered_demands.due_date)
                            then burn.remaining
                        else 0
                    end
                ) over (
                    partition by burn.tenant_id, burn.customer_id, burn.currency
                    order by burn.burn_rank
                    rows between unbounded preceding and 1 preceding
                ), 0) as available_before
            from burn
            inner join numbered_demands
                on
                    burn.tenant_id = numbered_demands.tenant_id
                    and burn.customer_id = numbered_demands.customer_id
                    and burn.currency = numbered_demands.currency
                    and numbered_demands.demand_number = burn.demand_number + 1
        ) as eligible
    ) as step
),

final as (
    select
        burn.tenant_id,
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
            burn.tenant_id = numbered_demands.tenant_id
            and burn.customer_id = numbered_demands.customer_id
            and burn.currency = numbered_demands.currency
            and burn.demand_number = numbered_demands.demand_number
)

select * from final
