# The two commands of the quick start: `make up` (install everything, run the hotline) and `make test`.
VENV    := .venv
HOTLINE := $(VENV)/bin/hotline

.PHONY: up setup system-packages test lint bench bench-greeting soak clean-pbx-test

up: setup
	$(HOTLINE) up

setup: system-packages $(VENV)/.installed
	$(HOTLINE) pbx install
	$(HOTLINE) db upgrade

system-packages:
	@bash scripts/install-system-packages.sh

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: setup lint
	$(VENV)/bin/pytest

# `make bench`: the whole journey against app_queue, short (minutes); `make bench FULL=1`: the full sweep
# (60 s steps, 200 agents). `make bench-greeting`: the greeting-only path against Answer+Playback.
bench: setup
	$(VENV)/bin/python -m bench.journey $(if $(FULL),--full)

bench-greeting: setup
	$(VENV)/bin/python -m bench.run $(if $(FULL),--full)

# `make soak`: 30 min of mixed callers, the controller SIGKILLed every 180 s (README "Failures", Soak);
# `make soak MINUTES=4 KILL_EVERY=60`: the short run.
soak: setup
	$(VENV)/bin/python -m bench.soak $(if $(MINUTES),--minutes $(MINUTES)) $(if $(KILL_EVERY),--kill-every $(KILL_EVERY))
