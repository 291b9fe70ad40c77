# VideoPlanet developer commands. Everything runs from .venv, which
# `make install` (scripts/bootstrap.sh) creates and keeps up to date.
PY := .venv/bin/python

.PHONY: help install messages run test migrate worker chaos bench clean

help: ## list the targets
	@echo "VideoPlanet make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 16
	@echo
	@echo "Settings via environment: PORT, HOST, SANDBOX_PORT, WORKERS, FAL_KEY, DATABASE_URL; ARGS for pytest."

install: ## create/refresh .venv, install requirements.txt, compile the translations
	@bash scripts/bootstrap.sh
	@$(PY) -m devtools.messages

messages: install ## re-extract the strings to translate into locale/ (needs GNU gettext), then compile
	@$(PY) -m devtools.messages --extract

migrate: install ## apply database migrations
	@$(PY) manage.py migrate --noinput -v 0

run: migrate ## run the app: web, task workers, reconciler, local fal sandbox
	@$(PY) manage.py collectstatic --noinput -v 0
	@$(PY) manage.py ensure_demo_account
	@$(PY) -m devtools.serve

test: install ## run the tests (PostgreSQL if on 127.0.0.1:5432, else SQLite), one process per core; ARGS="-k foo"
	@TEST_PROCESSES=$${TEST_PROCESSES:-auto} bash scripts/test.sh $(ARGS)

chaos: migrate ## a chaos run: faults, killed workers, then an audit; ARGS="--jobs 200"
	@$(PY) -m devtools chaos $(ARGS)

bench: install ## the benchmark suite: figures beside same-run baselines; ARGS="gallery --quick"
	@$(PY) -m devtools.bench $(ARGS)

worker: migrate ## run a single task worker in the foreground
	@$(PY) -m devtools.processes worker

clean: ## delete .venv, the SQLite database, media/ and var/
	rm -rf .venv db.sqlite3 db.sqlite3-journal db.sqlite3-wal db.sqlite3-shm media var
