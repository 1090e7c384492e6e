"""The pure core: request model, policy, detectors, scoring and decisions.

Nothing under ``vaultgate.core`` imports asyncio or sockets, reads the clock
or the environment: time is passed in.  It can be tested and fuzzed without
an event loop.
"""
