{#- One row per subscription and billing period that has started by var('as_of_date').
    Periods start on the anchor day (1..28) every month (monthly), 3 months (quarterly) or 12 months (annual);
    the first period is the one containing start_date, so it may begin before the subscription
    (then it is prorated by day). Half-open: [period_start, period_end), and the days actually
    served: [service_start, service_end). The plan version is the one in force at service_start. -#}

with subscriptions as (
    select * from {{ ref('stg_catalog__subscriptions') }}
),

-- the plan version in force at a period's service start
plan_versions as (
    select plan_id, plan_version, effective_from, effective_to
    from {{ ref('stg_catalog__plan_versions') }}
),

currencies as (
    select currency, minor_unit
    from {{ ref('stg_catalog__currencies') }}
),

numbers as (
    {{ number_series(3) }}
),

anchored as (
    select
        subscriptions.*,
        case subscriptions.billing_period when 'annual' then 12 when 'quarterly' then 3 else 1 end as period_months,
        cast({{ add_interval('day', 'subscriptions.billing_anchor_day - ' ~ day_of_month('subscriptions.start_date'),
            'subscriptions.start_date') }} as date) as anchor_in_start_month
    from subscriptions
),

first_periods as (
    select
        anchored.*,
        case
            when {{ day_of_month('anchored.start_date') }} >= anchored.billing_anchor_day
                then anchored.anchor_in_start_month
            else cast({{ add_interval('month', '-1 * anchored.period_months', 'anchored.anchor_in_start_month') }} as date)
        end as first_period_start
    from anchored
),

periods as (
    select
        first_periods.subscription_id,
        first_periods.tenant_id,
        first_periods.customer_id,
        first_periods.plan_id,
        first_periods.currency,
        first_periods.billing_period,
        first_periods.start_date,
        first_periods.end_date,
        first_periods.trial_days,
        first_periods.trial_usage_amount,
        numbers.n as period_index,
        cast({{ add_interval('month', 'numbers.n * first_periods.period_months', 'first_periods.first_period_start') }} as date)
            as period_start,
        cast(
            {{ add_interval('month', '(numbers.n + 1) * first_periods.period_months', 'first_periods.first_period_start') }}
            as date
        ) as period_end,
        cast({{ add_interval('day', 'first_periods.trial_days', 'first_periods.start_date') }} as date) as trial_end
    from first_periods
    inner join numbers
        on numbers.n * first_periods.period_months
            <= {{ months_between_starts('first_periods.first_period_start', as_of_date()) }} + 1
),

served as (
    select
        periods.*,
        case when periods.start_date > periods.period_start then periods.start_date else periods.period_start end
            as service_start,
        case
            when periods.end_date is not null and periods.end_date < periods.period_end then periods.end_date
            else periods.period_end
        end as service_end
    from periods
    where
        periods.period_start <= {{ as_of_date() }}
        and periods.period_end > periods.start_date
        and (periods.end_date is null or periods.period_start < periods.end_date)
),

final as (
    select
        served.subscription_id,
        served.tenant_id,
        served.customer_id,
        served.plan_id,
        plan_versions.plan_version,
        served.currency,
        currencies.minor_unit,
        served.billing_period,
        served.period_index,
        served.period_start,
        served.period_end,
        served.service_start,
        served.service_end,
        served.start_date,
        served.end_date,
        served.trial_end,
        served.trial_usage_amount,
        {{ days_between('served.period_start', 'served.period_end') }} as period_days,
        {{ days_between('served.service_start', 'served.service_end') }} as service_days,
        case
            when served.trial_end > served.service_start
                then {{ days_between('served.service_start',
                    'case when served.trial_end < served.service_end then served.trial_end else served.service_end end') }}
            else 0
        end as trial_days_in_period,
        served.service_start <= {{ as_of_date() }} as is_started,
        served.period_end <= {{ as_of_date() }} as is_ended
    from served
    inner join plan_versions
        on
            served.plan_id = plan_versions.plan_id
            and served.service_start >= plan_versions.effective_from
            and (plan_versions.effective_to is null or served.service_start < plan_versions.effective_to)
    inner join currencies
        on served.currency = currencies.currency
    where served.service_start < served.service_end
)

select * from final
