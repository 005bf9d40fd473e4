{#- Azure transaction history rows. Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC.
    Typing and the empty row set before the first load: macro stage_raw_feed (macros/staging/raw_feed.sql). -#}
{{ stage_raw_feed('marketplace/azure_transactions', source('raw', 'marketplace_azure_transactions'), [
    'transaction_id', 'resource_id', 'offer_id', 'plan_id',
    'transaction_date:date', 'billed_amount:amount', 'currency:upper', 'source_file',
]) }}
