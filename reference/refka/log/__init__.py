"""The storage layer: each partition replica's log on disk, laid out as Kafka lays it out.

Reading order: ``storage`` (the only door to the disk; ``MemoryStorage`` is the crash
simulator's disk), ``config`` (topic-level keys), ``index_file`` (what both indexes share),
``offset_index`` and ``time_index`` (the sparse indexes and their CrossHair-checked lookups),
``segment`` (one ``.log`` with its indexes), ``checkpoint`` (Kafka's checkpoint text files),
``leader_epoch_cache`` (KIP-101),
``partition_log`` (``PartitionLog``: append, read, roll, retention, flush, recovery) and
``log_manager`` (all logs of one log dir and their offset checkpoints).
"""
