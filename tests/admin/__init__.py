"""Tests of the admin server."""
