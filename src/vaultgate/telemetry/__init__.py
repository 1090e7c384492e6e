"""Telemetry: audit events, their sinks, and metrics."""
