{#- Percentage-of-transaction prices, rated per event (the event quantity is the transaction
    amount), in event order (event_ts, event_id) across the groups of one price:
      free allowances: `free_events` (the first N events) and `free_amount` (the first X of
                    transaction volume). Each set allowance must still last for an event to be
                    free: with both set, usage is free only while BOTH last, and whichever runs
                    out first ends it (Lago, percentage charge model: "the first 3 events or $500
                    are free", checked at each event);
      chargeable amount = 0 while the allowances last; the part of the event beyond what is left
                    of `free_amount` when that allowance runs out inside the event; the whole
                    amount once an allowance has run out (event number > free_events, or no
                    free_amount left);
      free event  : chargeable amount = 0: pays nothing (no fixed fee);
      otherwise   : fee = chargeable amount * rate / 100 + fixed_fee, then at least
                    min_per_event and at most max_per_event. -#}

-- the percentage prices (transaction fees) and their per-event terms
with priced as (
    select
        subscription_id, period_start, meter_id, dimensions_json, price_id,
        rate, fixed_fee, free_events, free_amount, min_per_event, max_per_event
    from {{ ref('int_rating__usage_priced') }}
    where price_model = 'percentage'
),

-- the events they price: each is a transaction whose quantity is its amount
events as (
    select subscription_id, period_start, meter_id, dimensions_json, event_id, event_ts, quantity
    from {{ ref('int_rating__usage_events') }}
),

ordered as (
    select
        events.event_id,
        events.event_ts,
        events.quantity as transaction_amount,
        priced.subscription_id,
        priced.period_start,
        priced.price_id,
        priced.dimensions_json,
        priced.rate,
        priced.fixed_fee,
        priced.free_events,
        priced.free_amount,
        priced.min_per_event,
        priced.max_per_event,
        row_number() over (
            partition by priced.subscription_id, priced.period_start, priced.price_id
            order by events.event_ts, events.event_id
        ) as event_number,
        coalesce(sum(events.quantity) over (
            partition by priced.subscription_id, priced.period_start, priced.price_id
            order by events.event_ts, events.event_id
            rows between unbounded preceding and 1 preceding
        ), 0) as amount_before
    from events
    inner join priced
        on {{ columns_match('events', 'priced', ['subscription_id', 'period_start', 'meter_id', 'dimensions_json']) }}
),

chargeable as (
    select
        ordered.*,
        case
            when ordered.free_events is not null and ordered.event_number > ordered.free_events
                then ordered.transaction_amount
            when ordered.free_amount is null and ordered.free_events is null then ordered.transaction_amount
            when ordered.free_amount is null then cast(0 as decimal(38, 12))
            when ordered.free_amount - ordered.amount_before <= 0 then ordered.transaction_amount
            when ordered.transaction_amount > ordered.free_amount - ordered.amount_before
                then ordered.transaction_amount - (ordered.free_amount - ordered.amount_before)
            else cast(0 as decimal(38, 12))
        end as chargeable_amount
    from ordered
),

fees as (
    select
        rated.*,
        rated.chargeable_amount <= 0 as is_free,
        {{ safe_divide('rated.amount_x_rate', '100') }} + coalesce(rated.fixed_fee, 0) as raw_fee
    from (
        select
            chargeable.*,
            {{ decimal_multiply('chargeable.chargeable_amount', 'chargeable.rate') }} as amount_x_rate
        from chargeable
    ) as rated
),

clamped as (
    select
        fees.*,
        case
            when fees.is_free then cast(0 as decimal(38, 12))
            when fees.max_per_event is not null and fees.raw_fee > fees.max_per_event then fees.max_per_event
            when fees.min_per_event is not null and fees.raw_fee < fees.min_per_event then fees.min_per_event
            else fees.raw_fee
        end as fee
    from fees
),

final as (
    select
        subscription_id,
        period_start,
        price_id,
        dimensions_json,
        cast(sum(fee) as decimal(38, 12)) as amount,
        '[{"events":' || cast(count(*) as {{ dbt.type_string() }})
        || ',"free_events":' || cast(sum(case when is_free then 1 else 0 end) as {{ dbt.type_string() }})
        || ',"transaction_amount":"' || {{ decimal_text('sum(transaction_amount)') }}
        || '","chargeable_amount":"' || {{ decimal_text('sum(case when is_free then 0 else chargeable_amount end)') }}
        || '","amount":"' || {{ decimal_text('sum(fee)') }} || '"}]' as fee_breakdown_json
    from clamped
    group by subscription_id, period_start, price_id, dimensions_json
)

select * from final
