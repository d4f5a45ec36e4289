"""Clients for the simulator that speak Kafka's wire protocol (requests encoded and responses
decoded with kio), as Core-protocol nodes: a producer, a consumer-group member, an admin."""

from refka.sim.clients.admin import SimAdmin
from refka.sim.clients.consumer import Assignment, HighWatermark, SimConsumer
from refka.sim.clients.producer import SimProducer

__all__ = ["Assignment", "HighWatermark", "SimAdmin", "SimConsumer", "SimProducer"]
