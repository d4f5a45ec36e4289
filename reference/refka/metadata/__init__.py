"""The KRaft metadata layer (KIP-500, KIP-631): Kafka's metadata records (``records``), the
metadata image they build (``image``), and the controller's durable metadata log with its
snapshots (``metadata_log``, KIP-630).
"""
