# The two set-up commands of the README:
#   make repro   install (once), link the corpora if present, compose params.yaml, run `dvc repro`
#                with the stages that do not need each other side by side, JOBS at a time
#                (pipelines/repro.py; default: the usable cores)
#   make test    install (once), run the test suite CI runs
# and the second committed experiment (README, "Seeds"):
#   make repro-seeds  RNNencdec-50 and RNNsearch-50 with three seeds each -> reports/seeds/
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
# Where the corpora are: ../shared/corpora when present, else pass CORPORA=/path/to/corpora.
CORPORA ?= $(wildcard ../shared/corpora)
# make test: one test process per usable core (pytest-xdist; tests/conftest.py schedules them)
TEST_WORKERS ?= $(shell nproc)
PYTEST_ARGS ?= -m "not slow" -n $(TEST_WORKERS)
JOBS ?=
export PATH := $(BIN):$(PATH)

.PHONY: repro repro-seeds test test-all install corpora params constraints lint

repro: install corpora params
	python -m pipelines.repro $(if $(JOBS),--jobs $(JOBS))

repro-seeds: install corpora
	python -m pipelines.experiment seeds experiment=cpu_seeds

test: install corpora
	pytest $(PYTEST_ARGS)

test-all: install corpora
	pytest -m "slow or not slow"

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev]'
	touch $@

# ./corpora -> your copy of the corpora (see README, "Corpora"); never copied into the project.
corpora:
	@if [ -e corpora ] || [ -L corpora ]; then \
	  test -d corpora || { echo "corpora is a broken link: ls -l corpora; fix or remove it" >&2; exit 1; }; \
	elif [ -n "$(CORPORA)" ]; then \
	  test -d "$(CORPORA)" || { echo "CORPORA=$(CORPORA) is not a folder" >&2; exit 1; }; \
	  ln -s "$(abspath $(CORPORA))" corpora && echo "linked corpora -> $(abspath $(CORPORA))"; \
	else \
	  echo "no corpora linked (fine for data=synthetic); for Hansard: make corpora CORPORA=/path"; \
	fi

params: install
	python -m pipelines.compose_params

constraints:
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable \
	  | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

lint: install
	ruff check . && ruff format --check .
