"""Event sources: JSONL replay, data files (backtests), the synthetic demo stream and Kafka."""
