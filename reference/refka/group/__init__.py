"""The classic consumer group coordinator (sans-I/O) and its ``__consumer_offsets`` records."""
