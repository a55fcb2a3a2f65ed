"""Agent Insights offline: what livekit-agents uploads for each job (OTLP spans, logs and
metric points; the session report with its transcript and audio), decoded, kept in SQLite,
joined to the stack's knowledge of the job's dispatch, and served as sessions. The proxy
mounts its routers (`routes.uploads`, `routes.sessions`); it imports devstack/ only."""
