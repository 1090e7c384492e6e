"""vaultgate: a real-time API threat-blocking reverse proxy for fintech APIs."""

__version__ = "0.1.0"
