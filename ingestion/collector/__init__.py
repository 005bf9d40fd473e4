"""HTTP usage collector: durable, deduplicating ingestion into the landing zone (docs/collector.md)."""
