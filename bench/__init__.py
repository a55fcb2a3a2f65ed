"""Join-latency and capacity benchmark for the stack (`python -m bench`, `scripts/bench`)."""
