"""Tests of audit events, sinks, the spool and metrics."""
