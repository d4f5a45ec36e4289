"""The transaction coordinator (KIP-98, KIP-360, KIP-890), named as Kafka's
``TransactionCoordinator`` / ``TransactionStateManager``: ``state`` holds the states and the one
table of legal transitions, ``metadata`` one transactional id's ``TransactionMetadata``,
``coordinator`` the sans-I/O coordinator (requests in, results and marker effects out)."""
