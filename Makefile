# `make run` and `make test` each set up what they need, then run. Both are idempotent.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; installed first so nothing pulls the multi-GB CUDA build.
# Elsewhere: `make run TORCH=torch` (or any spec pip understands).
TORCH ?= torch==2.13.0
# llama.cpp (the `llm` extra) compiled for any x86-64 CPU with AVX2, not for the one it builds on: pip's
# default (-march=native) compiles in AMX or AVX-512 code, which dies with "Illegal instruction" wherever
# the CPU or the kernel does not enable it (docs/written-answers.md). `make test LLAMA_CMAKE=` builds native.
LLAMA_CMAKE ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test install install-test browser bench index clean

run: install
	$(PY) app.py

# The whole suite with bfloat16 embedding forced on, then the stages that embed again with it off: both
# paths are tested whatever this CPU computes natively (tests/conftest.py, vector_atol). The model-process
# and Milvus-server tests run once: nothing they check goes through bfloat16.
test: install-test browser
	HF_HUB_OFFLINE=1 QA_BF16=1 $(PY) -m pytest -q --durations=15
	HF_HUB_OFFLINE=1 QA_BF16=0 $(PY) -m pytest -q --durations=15 tests/embed tests/store tests/answer tests/evaluate tests/test_bot.py \
		--ignore=tests/answer/test_model_process.py --ignore=tests/store/test_milvus_servers.py \
		--ignore=tests/store/test_ray_build.py

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

# llama-cpp-python first, on its own, never from pip's wheel cache: a wheel cached from a native build
# would be taken whatever CMAKE_ARGS say.
$(TEST_STAMP): $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(PY) -m pip install -q --no-cache-dir --force-reinstall --no-deps \
		"llama-cpp-python>=0.3.7,<0.4"
	$(PY) -m pip install -q -e ".[test,llm,milvus,openvino,ray]"
	touch $(TEST_STAMP)

# Debian's Chromium for the browser test (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser test…"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "Could not install chromium: the browser test will be skipped."; }

index: install
	$(PY) -m qa index corpus --index index

bench: install
	HF_HUB_OFFLINE=1 $(PY) bench/speed.py

clean:
	rm -rf $(VENV) .pytest_cache
