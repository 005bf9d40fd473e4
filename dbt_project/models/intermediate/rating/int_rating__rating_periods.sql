{#- The periods that are rated: every billing period of int_rating__subscription_periods
    (is_usage_month = false), plus, for quarterly and annual plans whose plan version bills usage
    charges monthly (plan `bill_charges_monthly`, charge `bill_monthly`; Lago "bill charges
    monthly"), one usage month per calendar month of the billing period, counted from its
    period_start (is_usage_month = true). A usage month is [period_start + k months, + k+1 months),
    its service days are those of the billing period inside it, and it ends (is_ended) on its own
    period_end, so its usage is billed in arrears every month. billing_period_start names the
    billing period a row belongs to (discount periods and the commitment true-up count billing
    periods). -#}

with periods as (
    select * from {{ ref('int_rating__subscription_periods') }}
),

-- the plan versions with a usage charge billed monthly
monthly_versions as (
    select distinct plan_id, plan_version
    from {{ ref('stg_catalog__plan_charges') }}
    where charge_type = 'usage' and usage_interval = 'monthly'
),

numbers as (
    {{ number_series(2) }}
),

month_bounds as (
    select
        periods.*,
        cast({{ add_interval('month', 'numbers.n', 'periods.period_start') }} as date) as month_start,
        cast({{ add_interval('month', 'numbers.n + 1', 'periods.period_start') }} as date) as month_end
    from periods
    inner join monthly_versions
        on
            periods.plan_id = monthly_versions.plan_id
            and periods.plan_version = monthly_versions.plan_version
    inner join numbers
        on numbers.n < case periods.billing_period when 'annual' then 12 when 'quarterly' then 3 else 0 end
),

month_served as (
    select
        month_bounds.*,
        case when month_bounds.service_start > month_bounds.month_start then month_bounds.service_start
            else month_bounds.month_start
        end as month_service_start,
        case when month_bounds.service_end < month_bounds.month_end then month_bounds.service_end
            else month_bounds.month_end
        end as month_service_end
    from month_bounds
    where month_bounds.month_start <= {{ as_of_date() }}
),

usage_months as (
    select
        {{ rating_subscription_columns() }},
        billing_period,
        period_index,
        month_start as period_start,
        month_end as period_end,
        month_service_start as service_start,
        month_service_end as service_end,
        start_date,
        end_date,
        trial_end,
        trial_usage_amount,
        {{ days_between('month_start', 'month_end') }} as period_days,
        {{ days_between('month_service_start', 'month_service_end') }} as service_days,
        case
            when trial_end > month_service_start
                then {{ days_between('month_service_start',
                    'case when trial_end < month_service_end then trial_end else month_service_end end') }}
            else 0
        end as trial_days_in_period,
        month_service_start <= {{ as_of_date() }} as is_started,
        month_end <= {{ as_of_date() }} as is_ended,
        true as is_usage_month,
        period_start as billing_period_start
    from month_served
    where month_service_start < month_service_end
),

billing_periods as (
    select
        periods.*,
        false as is_usage_month,
        periods.period_start as billing_period_start
    from periods
),

final as (
    select * from billing_periods
    union all
    select * from usage_months
)

select * from final
