"""The protocol fuzzer (issue 13): hostile inputs for any Kafka broker, and the checks after each.

Sans-I/O, like the core: ``schema`` builds Hypothesis strategies for every request entity from
kio's schemas, ``mutate`` damages valid frames, ``inputs`` joins them into wire inputs,
``target`` drives a combined node in process on a fake clock. The runners (``refka fuzz``,
``refka.fuzz_cli``) add clocks and sockets.
"""
