{#- Prepaid credits (credit grants) applied to each invoice of a customer, in time order.
    Credits are a means of payment, applied AFTER tax (docs/invoices.md "Invoice arithmetic";
    Lago "invoice calculation": fees, then coupons, then taxes, then credits): an invoice's demand
    is its tax-inclusive total (sum of the gross amounts of its rounded, taxed lines), when positive.
    Demands are served in order of billing date, then subscription_id, invoice_id.
    A grant can pay an invoice when granted_at <= billing date < expires_at and it is in the
    invoice's currency. Burn order (docs/pricing.md): earliest expiry first (never-expiring last),
    then oldest grant (granted_at), then grant_id.

    Set-based, no recursion (every engine, Spark included: Spark refuses recursive CTEs with window
    functions), no cap on the number of invoices per customer. Walking the invoices one by one, an
    invoice takes from its eligible grants in burn order, so what grant r gives to invoice d depends
    only on d's residual after the grants ranked before r, and on what r gave to earlier invoices:
        used(r, d) = max(0, min(residual_r(d), amount(r) - sum of residual_r(d') over the invoices
                                                 d' < d that r can pay))
    (r's balance before d is amount(r) - min(amount(r), that sum)), and
        residual_{r+1}(d) = residual_r(d) - used(r, d), residual_1(d) = demand(d).
    So one step per burn rank, each a running sum over the invoices: as many steps as the most grants
    one (tenant, customer, currency) holds, read from the grants at compile time (dbt compiles a model
    just before running it, after its parents are built). The same result as the recursive walk
    over invoices it replaces (tests/invoicing/test_invoice_arithmetic.py pins the figures). -#}

{%- set max_rank = 1 -%}
{%- set grants_relation = ref('stg_catalog__credit_grants') -%}
{%- if execute and adapter.get_relation(
        database=grants_relation.database, schema=grants_relation.schema, identifier=grants_relation.identifier
    ) is not none -%}
    {%- set counted = run_query(
        'select max(n) from (select count(*) as n from ' ~ grants_relation
        ~ ' group by tenant_id, customer_id, currency) as per_customer'
    ).columns[0].values()[0] -%}
    {%- set max_rank = (counted or 1) | int -%}
{%- endif %}

with

lines as (
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
        on {{ columns_match('lines', 'customers_with_grants', ['tenant_id', 'customer_id']) }}
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

residual_1 as (
    select
        numbered_demands.tenant_id,
        numbered_demands.customer_id,
        numbered_demands.currency,
        numbered_demands.demand_number,
        numbered_demands.due_date,
        cast(numbered_demands.demand_amount as decimal(38, 12)) as residual
    from numbered_demands
),

{% for rank in range(1, max_rank + 1) -%}
{#- Grant of burn rank {{ rank }} against every invoice of its customer and currency. -#}
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
            residual_{{ rank }}.tenant_id = ranked_grants.tenant_id
            and residual_{{ rank }}.customer_id = ranked_grants.customer_id
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
                    partition by windowed.tenant_id, windowed.customer_id, windowed.currency
                    order by windowed.demand_number
                    rows between unbounded preceding and 1 preceding
                ), 0)
            )) as decimal(38, 12))
        end as used
    from windowed_{{ rank }} as windowed
),

residual_{{ rank + 1 }} as (
    select
        residual_{{ rank }}.tenant_id,
        residual_{{ rank }}.customer_id,
        residual_{{ rank }}.currency,
        residual_{{ rank }}.demand_number,
        residual_{{ rank }}.due_date,
        cast(residual_{{ rank }}.residual - coalesce(used_{{ rank }}.used, 0) as decimal(38, 12)) as residual
    from residual_{{ rank }}
    left join used_{{ rank }}
        on
            residual_{{ rank }}.tenant_id = used_{{ rank }}.tenant_id
            and residual_{{ rank }}.customer_id = used_{{ rank }}.customer_id
            and residual_{{ rank }}.currency = used_{{ rank }}.currency
            and residual_{{ rank }}.demand_number = used_{{ rank }}.demand_number
),

{% endfor -%}
all_used as (
    {%- for rank in range(1, max_rank + 1) %}
    select
        tenant_id,
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
        all_used.tenant_id,
        all_used.customer_id,
        all_used.currency,
        all_used.grant_id,
        all_used.burn_rank,
        all_used.granted_at,
        all_used.expires_at,
        cast(all_used.demand_number as bigint) as demand_number,
        cast(all_used.grant_amount - sum(all_used.used) over (
            partition by all_used.tenant_id, all_used.customer_id, all_used.currency, all_used.grant_id
            order by all_used.demand_number
            rows between unbounded preceding and current row
        ) as decimal(38, 12)) as remaining,
        all_used.used
    from all_used
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
        on {{ columns_match('burn', 'numbered_demands', ['tenant_id', 'customer_id', 'currency', 'demand_number']) }}
)

select * from final
