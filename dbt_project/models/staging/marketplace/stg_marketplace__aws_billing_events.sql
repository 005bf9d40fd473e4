{#- AWS billing event feed rows. Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC.
    Typing and the empty row set before the first load: macro stage_raw_feed (macros/staging/raw_feed.sql). -#}
{{ stage_raw_feed('marketplace/aws_billing_events', source('raw', 'marketplace_aws_billing_events'), [
    'billing_event_id', 'end_user_account_id', 'product_id', 'action', 'transaction_type',
    'amount:amount', 'currency:upper', 'invoice_date:date', 'invoice_id', 'source_file',
]) }}
