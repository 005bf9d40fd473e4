{#- A prepaid credit grant never pays more than it holds, and the credit applied to an invoice
    point never exceeds what the point owed: no negative balance, no negative invoice. -#}
with balances as (
    select * from {{ ref('fct_credit_balances') }}
),

lines as (
    select * from {{ ref('fct_billing_lines') }}
),

overdrawn as (
    select
        grant_id as failing_key,
        'grant overdrawn' as problem
    from balances
    where
        balance < 0
        or amount_used > amount_granted
        or amount_used + amount_expired + balance != amount_granted
),

invoice_points as (
    select
        subscription_id,
        period_start,
        billing_timing,
        sum(amount_rounded) as net_amount,
        sum(case when line_type = 'credit_applied' then 1 else 0 end) as credit_lines
    from lines
    group by subscription_id, period_start, billing_timing
),

negative as (
    select
        subscription_id || ' ' || cast(period_start as {{ dbt.type_string() }}) || ' ' || billing_timing as failing_key,
        'credits made the invoice negative' as problem
    from invoice_points
    where credit_lines > 0 and net_amount < 0
),

final as (
    select * from overdrawn
    union all
    select * from negative
)

select * from final
