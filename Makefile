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
	@echo "make demo: not built yet (issue 7: the main job end to end)" >&2; exit 1

# QUICK=1 takes fewer samples (under 2 minutes); ONLY=engine,client picks benchmarks.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))

record: $(STAMP)
	@echo "make record: not built yet (issue 4: cassettes recorded from driftlock serve)" >&2; exit 1

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
