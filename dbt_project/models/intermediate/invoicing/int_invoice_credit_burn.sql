{#- Prepaid credits (credit grants) applied to each invoice of a customer, in time order.
    Credits are a means of payment, applied AFTER tax (docs/invoices.md "Invoice arithmetic";
    Lago "invoice calculation": fees, then coupons, then taxes, then credits): an invoice's demand
    is its tax-inclusive total (sum of the gross amounts of its rounded, taxed lines), when positive.
    Demands are served in order of billing date, then subscription_id, invoice_id.
    A grant can pay an invoice when granted_at <= billing date < expires_at and it is in the
    invoice's currency. Burn order (docs/pricing.md): earliest expiry first (never-expiring last),
    then oldest grant (granted_at), then grant_id.
    A recursive CTE walks the invoices of each customer one by one, carrying every grant's
    remaining balance (DuckDB, PostgreSQL; Spark >= 4.1 for recursive CTEs). -#}

with recursive lines as (
    select * from {{ ref('int_invoice_lines_taxed') }}
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
        lines.invoice_id,
        lines.customer_id,
        lines.currency,
        lines.subscription_id,
        min(lines.billing_date) as due_date,
        sum(lines.gross_amount) as demand_amount
    from lines
    inner join customers_with_grants
        on
            lines.tenant_id = customers_with_grants.tenant_id
            and lines.customer_id = customers_with_grants.customer_id
    group by lines.tenant_id, lines.invoice_id, lines.customer_id, lines.currency, lines.subscription_id
    having sum(lines.gross_amount) > 0
),

numbered_demands as (
    select
        demands.*,
        row_number() over (
            partition by demands.tenant_id, demands.customer_id, demands.currency
            order by
                demands.due_date,
                demands.subscription_id,
                demands.invoice_id
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
        numbered_demands.invoice_id,
        numbered_demands.subscription_id,
        numbered_demands.due_date,
        numbered_demands.demand_amount as invoice_total,
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
