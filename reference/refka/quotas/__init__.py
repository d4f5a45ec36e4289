"""Client quotas (KIP-13, KIP-55, KIP-124, KIP-546, KIP-219): entities, validation, rate
windows and throttle times, sans-I/O."""
