{#- Per currency and month, the customers' MRR changes (new + expansion + contraction + churn +
    reactivation) add up to total MRR minus total MRR of the previous month. Returns mismatches. -#}

with

mrr_totals as (
    select
        currency,
        month_start,
        sum(mrr) as total_mrr
    from {{ ref('fct_mrr') }}
    where not is_provisional
    group by 1, 2
),

with_previous as (
    select
        currency,
        month_start,
        total_mrr,
        coalesce(lag(total_mrr) over (partition by currency order by month_start), 0) as previous_total_mrr
    from mrr_totals
),

movements as (
    select
        currency,
        month_start,
        sum(new_mrr + expansion_mrr + contraction_mrr + churned_mrr + reactivation_mrr) as categorized_change,
        sum(mrr_change) as total_change
    from {{ ref('fct_mrr_movements') }}
    group by 1, 2
),

final as (
    select
        with_previous.currency,
        with_previous.month_start,
        with_previous.total_mrr - with_previous.previous_total_mrr as expected_change,
        movements.categorized_change,
        movements.total_change
    from with_previous
    left join movements
        on
            {{ keys_match(['currency', 'month_start'], 'with_previous', 'movements') }}
    where
        movements.total_change is null
        or movements.total_change != with_previous.total_mrr - with_previous.previous_total_mrr
        or movements.categorized_change != movements.total_change
)

select * from final
