# The two commands: `make run` starts everything on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data

.PHONY: run test bench seed-model mutate translations clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/moderation db upgrade
	$(BIN)/moderation demo
	$(BIN)/moderation serve --demo-site $${DEMO_SITE_PORT:-5001}

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/spam.py $(DATA)
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/console.py $(CONSOLE_ARGS)

# Before a release, not in `make test`: mutate the services, checks, privacy code and tasks (config in
# pyproject.toml, [tool.mutmut]) from scratch, then print the score and every mutant that survived.
MUTATE_FAIL_UNDER ?= 85

mutate: $(VENV)/.installed
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/python tools/mutation_score.py --mutmut $(BIN)/mutmut --fail-under $(MUTATE_FAIL_UNDER)

# After changing a reader-facing sentence: extract, merge into de and fr (translate the new msgstr), compile.
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --omit-header -o moderation/translations/messages.pot .
	$(BIN)/pybabel update -i moderation/translations/messages.pot -d moderation/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d moderation/translations --statistics

seed-model: $(VENV)/.installed
	$(BIN)/python bench/build_seed_model.py $(DATA)

clean:
	rm -rf $(VENV) .pytest_cache mutants
