{#- Invoice events with the invoice snapshot they carry (amounts in minor units, as Stripe sends them). -#}
with events as (
    select * from {{ ref('stg_stripe__events') }}
),

invoice_events as (
    select * from events
    where object_type = 'invoice'
),

final as (
    select
        event_id,
        event_type,
        created_at,
        object_id as stripe_invoice_id,
        {{ usagebill.json_path_text('payload_json', '$.data.object.metadata.usagebill_invoice_id') }} as usagebill_invoice_id,
        {{ usagebill.json_path_text('payload_json', '$.data.object.metadata.usagebill_customer_id') }} as usagebill_customer_id,
        {{ usagebill.json_path_text('payload_json', '$.data.object.customer') }} as stripe_customer_id,
        {{ usagebill.json_path_text('payload_json', '$.data.object.number') }} as stripe_invoice_number,
        upper({{ usagebill.json_path_text('payload_json', '$.data.object.currency') }}) as currency,
        {{ usagebill.json_path_text('payload_json', '$.data.object.status') }} as invoice_status,
        cast({{ usagebill.json_path_text('payload_json', '$.data.object.total') }} as bigint) as total_minor,
        cast({{ usagebill.json_path_text('payload_json', '$.data.object.amount_due') }} as bigint) as amount_due_minor,
        cast({{ usagebill.json_path_text('payload_json', '$.data.object.amount_paid') }} as bigint) as amount_paid_minor,
        cast({{ usagebill.json_path_text('payload_json', '$.data.object.amount_remaining') }} as bigint)
            as amount_remaining_minor,
        cast({{ usagebill.json_path_text('payload_json', '$.data.object.attempt_count') }} as integer) as attempt_count,
        coalesce(cast({{ usagebill.json_path_text('payload_json', '$.data.object.paid_out_of_band') }} as boolean), false)
            as paid_out_of_band,
        livemode
    from invoice_events
)

select * from final
