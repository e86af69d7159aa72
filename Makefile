# Two commands do everything on a fresh machine with Python 3.11:
#   make run   set up, migrate, create a demo operator, start web + worker + beat
#              (make run PORT=8001 HOST=0.0.0.0 to serve elsewhere)
#   make test  set up and run the whole test suite
#   make demo  start the local database over and replay the spec's walkthrough (then make run to look)
#   make drills  hostile input, load and faults on a PostgreSQL and Redis of their own (< 10 min)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test demo lint format bench migrate port-free drills drills-short drill-services

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# A local .env with a random SECRET_KEY and DEBUG on, for running on this machine only.
.env:
	@printf 'DEBUG=true\nSECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "Wrote .env (DEBUG on, a random SECRET_KEY) for local use."

migrate: $(VENV)/.installed .env
	$(BIN)/python manage.py migrate --noinput

# A port another process listens on is refused up front, with how to pick another.
port-free: $(BIN)/python
	@$(BIN)/python -c 'import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("$(HOST)", $(PORT)))' 2>/dev/null \
		|| { echo "Port $(PORT) on $(HOST) is busy (another make run?). Pick another one: make run PORT=8001"; exit 1; }

run: port-free migrate
	$(BIN)/python manage.py create_demo_operator
	@echo "Admin: http://$(HOST):$(PORT)/admin/   API: http://$(HOST):$(PORT)/api/governance/"
	HOST=$(HOST) PORT=$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start

# The spec's walkthrough on the embedded defaults: throttle, then kill switch; see it with make run.
# It starts over: the embedded SQLite database is recreated first (a DATABASE_URL one is kept).
demo: migrate
	$(BIN)/python manage.py demo --start-over --base-url http://$(HOST):$(PORT)

test: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Benchmarks print ratios against a baseline measured in the same run; they need PostgreSQL. Each
# script prints its details; the table of every goal (benchmarks/_table.py) comes last.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/governance_bench
bench: $(VENV)/.installed
	@results=$$(mktemp); failed=0; \
	for script in benchmarks/[!_]*.py; do \
		echo "== $$script"; \
		BENCH_RESULTS=$$results DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python $$script || failed=1; \
	done; \
	$(BIN)/python benchmarks/_table.py $$results || failed=1; rm -f $$results; exit $$failed

# Drills: hostile input (schemathesis), load and faults, on a PostgreSQL cluster (initdb into a
# temporary folder) and a Redis they start on free ports of their own, never the shared services.
# One table at the end; exit 1 if anything was lost. drills-short: the CI form (~1 minute).
drill-services:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v redis-server >/dev/null || { \
		echo "drills: installing postgresql and redis-server"; \
		apt-get update -qq && apt-get install -y -qq postgresql redis-server >/dev/null; }

drills: $(VENV)/.installed drill-services
	$(BIN)/python -m drills $(DRILL_ARGS)

drills-short: $(VENV)/.installed drill-services
	$(BIN)/python -m drills --short $(DRILL_ARGS)
