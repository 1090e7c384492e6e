"""Shared state for guards: counters, rate buckets, seen-sets and bans."""
