"""Adapters that expose driftd's results: Prometheus exposition and the HTTP server."""
