# Every target that needs the virtual environment depends on its stamp, so a fresh clone works.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The generator's ruff post-hooks must find the venv's pinned ruff first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

GEN_ARGS := generate --path openapi.yaml --config generator-config.yaml --meta none \
	--overwrite --fail-on-warning

.PHONY: install generate check-generated lint typecheck test demo bench record clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

generate: $(STAMP)
	rm -rf driftlock_generated
	$(BIN)/openapi-python-client $(GEN_ARGS) --output-path driftlock_generated

check-generated: $(STAMP)
	$(BIN)/python scripts/check_generated.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck check-generated
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/python -m examples.demo

# QUICK=1 takes fewer samples (under 2 minutes); ONLY=engine,client picks benchmarks.
bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m benchmarks.run $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))

# Records tests/cassettes from a fresh `driftlock serve` on a free loopback port, started and
# stopped here (also when the recording fails).
record: $(STAMP)
	@port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	key=dlk_00000000-0000-4000-8000-000000000000.record; \
	$(BIN)/driftlock serve --port $$port --api-key $$key --log-level warning & server=$$!; \
	trap 'kill $$server 2>/dev/null; wait $$server 2>/dev/null' EXIT; \
	for attempt in $$(seq 100); do \
	  $(BIN)/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
	    http://127.0.0.1:$$port/healthz 2>/dev/null && break; \
	  kill -0 $$server || exit 1; sleep 0.2; \
	done; \
	rm -f tests/cassettes/*.yaml && \
	DRIFTLOCK_CASSETTE_URL=http://127.0.0.1:$$port DRIFTLOCK_CASSETTE_KEY=$$key \
	  $(BIN)/pytest tests/client/test_cassettes.py --record-mode=rewrite -q

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
