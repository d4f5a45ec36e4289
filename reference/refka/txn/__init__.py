"""The transaction coordinator (KIP-98, KIP-360, KIP-890), named as Kafka's: ``state`` holds the
states and the one table of legal transitions, ``metadata`` one transactional id's
``TransactionMetadata``, ``state_manager`` the ``TransactionStateManager`` (ownership, loading,
expiration, the records of ``records``), ``coordinator`` the sans-I/O
``TransactionCoordinator`` (requests in, ``effects`` out)."""
