"""The load test with faults injected: `make loadtest` (see __main__.py)."""
