# Two commands: `make run` sets everything up and serves the app on SQLite;
# `make test` installs what the tests need and runs them all.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint bench migrate clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Flask's development server gives each request a thread, as gunicorn.conf.py does in
# production: a Continue waiting on Stripe holds up no other page here either.
run: $(VENV)/.installed ## set up .venv, apply migrations to instance/membership.sqlite3, serve
	APP_ENV=$${APP_ENV:-development} $(FLASK) db upgrade
	APP_ENV=$${APP_ENV:-development} $(FLASK) run --with-threads --host $(HOST) --port $(PORT)

migrate: $(VENV)/.installed ## apply migrations to DATABASE_URL (default: the SQLite file)
	APP_ENV=$${APP_ENV:-development} $(FLASK) db upgrade

lint: $(VENV)/.installed-test
	$(BIN)/ruff check membership tests benchmarks wsgi.py gunicorn.conf.py
	$(BIN)/ruff format --check membership tests benchmarks wsgi.py gunicorn.conf.py
	$(BIN)/mypy

test: lint ## lint, type-check, then the whole suite (on PostgreSQL instead when TEST_DATABASE_URL names one)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test ## print benchmark tables (ratios to baselines run in the same process)
	$(BIN)/python benchmarks/support_page.py
	$(BIN)/python benchmarks/surge.py
	$(BIN)/python benchmarks/webhooks.py
	$(BIN)/python benchmarks/reminders.py

# Readers' languages (docs/languages.md): extract every reader-facing string, bring each
# catalogue up to date, compile the .mo files the app reads (they are committed, and
# tests/i18n checks that they match their .po).
TRANSLATIONS := membership/translations
translations: $(VENV)/.installed ## extract reader-facing strings, update en and ru, compile
	$(BIN)/pybabel -q extract -F $(TRANSLATIONS)/babel.cfg -k lazy_gettext -k lazy_ngettext:1,2 \
		--add-location=file --sort-by-file --project=membership \
		-o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel -q update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) \
		--ignore-obsolete --no-fuzzy-matching --init-missing -l en
	$(BIN)/pybabel -q update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) \
		--ignore-obsolete --no-fuzzy-matching --init-missing -l ru
	$(BIN)/pybabel compile --statistics -d $(TRANSLATIONS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
