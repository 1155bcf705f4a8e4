# Two commands set everything up: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m llm_router.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

# LiteLLM, for side-by-side figures, lives in an environment of its own (never a dependency
# of this project); the benchmarks run without it when it cannot be installed.
LITELLM_VENV := bench/.litellm-venv

$(LITELLM_VENV)/.installed:
	$(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/python -m pip install --quiet 'litellm==1.110.2' \
		|| echo "LiteLLM could not be installed: the benchmarks run without it"
	touch $@

bench: $(STAMP) $(LITELLM_VENV)/.installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(LITELLM_VENV) build *.egg-info src/*.egg-info
