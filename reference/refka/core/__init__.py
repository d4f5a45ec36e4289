"""The broker's sans-I/O core: events in, effects out. No sockets, threads, clocks or randomness."""
