"""The replication data plane: follower fetch, ISR changes, acks=all (KIP-101, KIP-279,
KIP-320, KIP-497, KIP-966), driven by the KRaft metadata image."""
