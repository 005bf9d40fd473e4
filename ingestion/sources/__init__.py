"""Measurement sources that land usage events: SQL queries (PostgreSQL), S3 bytes stored per
customer, CloudWatch metrics per tagged resource. Each writes sealed JSONL files to
DATA_DIR/landing/usage/<source>/ with deterministic event ids (re-runs count nothing twice)."""
