"""Payload inspection: decoding, the multi-pattern matcher and detectors.

Pure code: no asyncio, no sockets, no clock.  See ``base`` for the contract
a detector module fulfils.
"""
