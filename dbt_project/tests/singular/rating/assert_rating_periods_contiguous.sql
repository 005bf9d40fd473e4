{#- Billing periods of a subscription are half-open and contiguous: each starts where the previous
    one ended, and the days served lie inside the period. Returns the breaks. -#}
with periods as (
    select * from {{ ref('int_rating__subscription_periods') }}
),

ordered as (
    select
        subscription_id,
        period_start,
        period_end,
        service_start,
        service_end,
        lag(period_end) over (partition by subscription_id order by period_start) as previous_end
    from periods
),

final as (
    select *
    from ordered
    where
        (previous_end is not null and previous_end != period_start)
        or period_end <= period_start
        or service_start < period_start
        or service_end > period_end
        or service_start >= service_end
)

select * from final
