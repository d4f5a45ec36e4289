"""refka: the executable specification of Apache Kafka.

The reference broker is a sans-I/O core (``refka.core``, ``refka.log``, ``refka.protocol``,
``refka.group``) with two thin drivers around it: the asyncio server (``refka.server``) and
the deterministic simulator (``refka.sim``).
"""

__version__ = "0.1.0"
