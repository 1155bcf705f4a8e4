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

# LiteLLM's proxy (`litellm --config`) for the gateway benchmark, in a third environment:
# `litellm[proxy]==1.110.2` does not resolve (it pins a `litellm-proxy` release that does not
# exist), so the extra's other requirements are read from LiteLLM's metadata and installed.
LITELLM_PROXY_VENV := bench/.litellm-proxy-venv

$(LITELLM_PROXY_VENV)/.installed:
	$(PYTHON) -m venv $(LITELLM_PROXY_VENV)
	( $(LITELLM_PROXY_VENV)/bin/python -m pip install --quiet 'litellm==1.110.2' packaging \
	  && $(LITELLM_PROXY_VENV)/bin/python bench/_litellm_proxy_requirements.py \
	     > $(LITELLM_PROXY_VENV)/proxy-requirements.txt \
	  && $(LITELLM_PROXY_VENV)/bin/python -m pip install --quiet \
	     -r $(LITELLM_PROXY_VENV)/proxy-requirements.txt ) \
		|| echo "LiteLLM's proxy could not be installed: the gateway benchmark runs without it"
	touch $@

bench: $(STAMP) $(LITELLM_VENV)/.installed $(LITELLM_PROXY_VENV)/.installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(LITELLM_VENV) $(LITELLM_PROXY_VENV) build *.egg-info src/*.egg-info
