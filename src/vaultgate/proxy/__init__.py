"""The inline reverse proxy: the I/O shell around the engine.

How this works: ``runner`` starts one or more worker processes; each runs a
uvloop event loop with a ``ServerContext`` (the engine, the limits, the
upstream pool) and accepts connections.  A ``ClientConnection`` feeds bytes
to an llhttp parser, refuses what the wire rules (``wire``) call ambiguous,
and queues each parsed request head; one task per connection answers them
in order (``handler``): it builds the request model, buffers the part of the
body to inspect, asks the engine for a decision and either renders it or
forwards the request through the pool (``forward``, ``upstream``).  A
``Watchdog`` enforces every timeout by sweeping deadlines, so the hot path
arms no timers.
"""
