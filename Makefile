# Two commands for a newcomer: `make run` serves the app with demo data, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export DJANGO_SETTINGS_MODULE ?= funnel.settings.dev

.PHONY: run test lint format bench fuzz install install-dev migrate demo clean help

help:
	@echo "make run    set up and serve the app on http://$(HOST):$(PORT)/ with demo data"
	@echo "make test   set up and run the test suite"
	@echo "make lint   ruff and mypy"
	@echo "make bench  benchmarks (figures printed)"
	@echo "make fuzz   schema and property fuzzing with many examples"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Funnel needs Python 3.11 or newer.")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

install: $(VENV)/.runtime-installed
install-dev: $(VENV)/.dev-installed

migrate: install
	$(BIN)/python manage.py migrate --no-input

demo: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py build_weekly_report

run: demo
	@echo
	@echo "Funnel is serving on http://$(HOST):$(PORT)/  (Ctrl+C to stop)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install-dev
	DJANGO_SETTINGS_MODULE=funnel.settings.test $(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=funnel.settings.test $(BIN)/mypy .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	DJANGO_SETTINGS_MODULE=funnel.settings.test $(BIN)/python -m benchmarks $(BENCH)

fuzz: install-dev
	DJANGO_SETTINGS_MODULE=funnel.settings.test HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -m fuzz --hypothesis-show-statistics $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .mypy_cache .ruff_cache
