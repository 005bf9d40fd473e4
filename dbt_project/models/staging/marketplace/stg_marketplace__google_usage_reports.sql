{#- Google Cloud Marketplace report rows. Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC.
    Typing and the empty row set before the first load: macro stage_raw_feed (macros/staging/raw_feed.sql). -#}
{{ stage_raw_feed('marketplace/google_usage_reports', source('raw', 'marketplace_google_usage_reports'), [
    'report_line_id', 'usage_reporting_id', 'product_id',
    'usage_date:date', 'billed_amount:amount', 'currency:upper', 'source_file',
]) }}
