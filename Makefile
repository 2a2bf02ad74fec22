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

# Every benchmark in turn, then bench/results/latest.md and its charts: `make bench QUICK=1` for a run of a few minutes,
# ONLY=spam,pipeline or SKIP=web,console to choose, SPAM_ARGS (and PIPELINE_, DURABILITY_, IMPORTS_, MEMORY_, WEB_, CONSOLE_ARGS) for one.
bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run.py --data "$(DATA)" $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY)) $(if $(SKIP),--skip $(SKIP)) \
		--args spam="$(SPAM_ARGS)" --args pipeline="$(PIPELINE_ARGS)" --args durability="$(DURABILITY_ARGS)" \
		--args imports="$(IMPORTS_ARGS)" \
		--args memory="$(MEMORY_ARGS)" \
		--args web="$(WEB_ARGS)" --args console="$(CONSOLE_ARGS)"

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
