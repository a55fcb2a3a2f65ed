# The two commands: `make dev` runs the stack, `make test` runs every test.
# Both set everything up first (scripts/setup is idempotent and fast when done).
.DEFAULT_GOAL := help
VENV := .venv/bin
PYTEST_ARGS ?=

.PHONY: help setup dev dev-cluster test lint format bench doctor server-image clean

help:
	@echo "make dev    set up, then run livekit-server, proxy and agent (honcho start)"
	@echo "            a pool of workers: make dev HONCHO_ARGS='-c agent=2'"
	@echo "make dev-cluster  two livekit-server nodes on Redis, a worker on each (Procfile.cluster)"
	@echo "make test   set up, then run ruff and the whole test suite"
	@echo "make bench  the join-latency and capacity benchmark (scripts/bench; writes bench/results/)"
	@echo "make doctor why did the agent not join? (devstack doctor; ARGS='--room test-room --probe')"
	@echo "make lint | format | server-image | clean"

setup:
	@scripts/setup

dev: setup
	@test -f .env || { cp .env.example .env; echo "[make] created .env from .env.example"; }
	@$(VENV)/python -m supervisor.preflight
	$(VENV)/honcho start $(HONCHO_ARGS)

# Two livekit-server nodes on one Redis, a worker on each, the proxy knowing both.
dev-cluster: setup
	@test -f .env || { cp .env.example .env; echo "[make] created .env from .env.example"; }
	$(VENV)/honcho -f Procfile.cluster start

test: setup lint
	$(VENV)/pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

format: setup
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

bench:
	scripts/bench $(ARGS)

doctor: setup
	$(VENV)/devstack doctor $(ARGS)

server-image:
	@scripts/build-server-image

clean:
	rm -rf .venv .pytest_cache .ruff_cache
