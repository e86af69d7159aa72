# Two commands do everything on a fresh machine with Python 3.11:
#   make run   set up, migrate, create a demo operator, start web + worker + beat
#   make test  set up and run the whole test suite
#   make demo  replay the spec's walkthrough into the local database (then make run to look)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test demo lint format bench migrate

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

run: migrate
	$(BIN)/python manage.py create_demo_operator
	@echo "Admin: http://$(HOST):$(PORT)/admin/   API: http://$(HOST):$(PORT)/api/governance/"
	HOST=$(HOST) PORT=$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start

# The spec's walkthrough on the embedded defaults: throttle, then kill switch; see it with make run.
demo: migrate
	$(BIN)/python manage.py demo --base-url http://$(HOST):$(PORT)

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
