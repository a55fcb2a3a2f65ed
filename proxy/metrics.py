"""Prometheus counters for delivery (GET /metrics), the same numbers the debug page shows."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

# Joins take ~0.3 s warm, seconds cold, and front ends give up at 20 s.
BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60)


class DeliveryMetrics:
    """One registry per app, so several proxies in one process never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requested = self._counter(
            "requested", "Dispatches the stack made (explicit, or a token's room config)", "source"
        )
        self.delivered = self._counter("delivered", "Dispatches whose agent joined the room")
        self.redispatched = Counter(
            "devstack_redispatches",
            "Dispatches re-issued by the watcher",
            ["reason"],
            registry=self.registry,
        )
        self.lost = self._counter(
            "lost",
            "Dispatches that will bring no agent: not rescued (watcher off, cap reached)",
            "reason",
        )
        self.time_to_agent = Histogram(
            "devstack_dispatch_to_agent_seconds",
            "From the dispatch request until its agent joined",
            buckets=BUCKETS,
            registry=self.registry,
        )

    def _counter(self, what: str, doc: str, *labels: str) -> Counter:
        return Counter(f"devstack_dispatches_{what}", doc, list(labels), registry=self.registry)

    def totals(self) -> dict[str, float]:
        """The counters as the page shows them: one number each, labels summed."""
        out: dict[str, float] = {}
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    key = sample.name.removeprefix("devstack_").removesuffix("_total")
                    out[key] = out.get(key, 0) + sample.value
        return out

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
