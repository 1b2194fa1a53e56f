# Two commands for a new user: `make run` and `make test`. Everything lives in .venv (pip:
# uv and poetry skip the local torch wheels and would download gigabytes).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo-project
PYTEST_ARGS ?=

.PHONY: run test test-core lint bench venv dev dist clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed
dev: $(VENV)/.installed-dev

# Builds the demo project once (simulated billets with exact labels, about a minute on two
# cores), then opens the studio on it; with no display it runs the main job headless
# (billet-studio demo run: the bundled detector on fresh test billets, then every stage once).
$(DEMO)/demo.json: | $(VENV)/.installed
	$(BIN)/billet-studio demo init $(DEMO)

run: $(VENV)/.installed $(DEMO)/demo.json
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] && [ "$$QT_QPA_PLATFORM" != offscreen ]; then \
		$(BIN)/billet-studio gui $(DEMO); \
	else \
		echo "No display found: running the main job headless instead of opening the studio."; \
		$(BIN)/billet-studio demo run $(DEMO); \
	fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q --timeout=300 $(PYTEST_ARGS)

# The GUI-free core must import and pass its tests with neither Qt nor torch installed.
CORE_VENV := .venv-core
CORE_DEPS := numpy shapely opencv-python-headless pillow pyyaml tomli-w pycocotools matplotlib \
	orjson \
	pytest pytest-timeout hypothesis
test-core:
	test -x $(CORE_VENV)/bin/python || $(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install --quiet $(CORE_DEPS)
	$(CORE_VENV)/bin/python -m pip install --quiet --no-deps -e .
	! $(CORE_VENV)/bin/python -c 'import PySide6' 2>/dev/null
	! $(CORE_VENV)/bin/python -c 'import torch' 2>/dev/null
	$(CORE_VENV)/bin/python -m pytest -q --timeout=300 -p no:cacheprovider $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks

# The wheel and sdist (resources, the bundled models and the desktop files inside) in dist/.
dist: $(VENV)/.installed-dev
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache $(CORE_VENV) $(DEMO)
