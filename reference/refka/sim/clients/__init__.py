"""Clients for the simulator that speak Kafka's wire protocol (requests encoded and responses
decoded with kio), as Core-protocol nodes: a producer, a consumer-group member, an admin, a
transactional producer and a reader at either isolation level.

Give each the node id the world gives it (``SimCluster.add_client`` hands out 100, 101, ...
in order): it is the ``process`` of the history ops it records. A client that restarts is a
new client with a new id.
"""

from refka.sim.clients.admin import SimAdmin
from refka.sim.clients.consumer import Assignment, HighWatermark, SimConsumer
from refka.sim.clients.node import ClientNode, Leader
from refka.sim.clients.producer import SimProducer
from refka.sim.clients.reader import SimReader
from refka.sim.clients.transactional import SimTxnProducer

__all__ = [
    "Assignment",
    "ClientNode",
    "HighWatermark",
    "Leader",
    "SimAdmin",
    "SimConsumer",
    "SimProducer",
    "SimReader",
    "SimTxnProducer",
]
