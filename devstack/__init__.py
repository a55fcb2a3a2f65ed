"""The shared core every process of the stack stands on: settings, LiveKit helpers, the
error shape, and the process launchers. It imports nothing from agent/, proxy/, doctor/,
bench/ or tests/."""
