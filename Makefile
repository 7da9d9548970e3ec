# `make run` and `make test` each set up what they need, then run. Both are idempotent.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; installed first so nothing pulls the multi-GB CUDA build.
# Elsewhere: `make run TORCH=torch` (or any spec pip understands).
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test install install-test browser bench index clean

run: install
	$(PY) app.py

test: install-test browser
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

# What the chat needs, and no more: `make run` stays light.
install: $(STAMP)

# Every optional group too (the language-model extra compiles llama.cpp once: a few minutes), so all tests run.
install-test: $(TEST_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml requirements.txt | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -q -e ".[test,llm,milvus,openvino]"
	touch $(TEST_STAMP)

# Debian's Chromium for the browser test (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser test…"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "Could not install chromium: the browser test will be skipped."; }

index: install
	$(PY) -m qa.cli index corpus --index index

bench: install
	HF_HUB_OFFLINE=1 $(PY) bench/speed.py

clean:
	rm -rf $(VENV) .pytest_cache
