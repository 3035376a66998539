"""Event sources: JSONL replay, the synthetic demo stream (and Kafka)."""
