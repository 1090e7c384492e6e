"""The admin HTTP server: Prometheus metrics and a health check."""
