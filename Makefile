# privacy-desk — `make run` starts the whole stack locally, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test unit package-check bench fuzz fuzz-short fuzz-hostile fuzz-hostile-short mutate install clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: install
	$(PY) -u -m devtools.run_local

test: install
	$(VENV)/bin/ruff check app.py chalicelib devtools tests
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory package-check
	$(MAKE) --no-print-directory fuzz-short
	$(MAKE) --no-print-directory fuzz-hostile-short

unit: install
	$(PY) -m pytest -q

# The dev stage's SAM template must pass cfn-lint (a deployment check that needs no AWS account).
package-check: install
	rm -rf out && AWS_DEFAULT_REGION=eu-west-3 $(VENV)/bin/chalice package --stage dev out/ >/dev/null
	$(PY) -m devtools.patch_sam out/sam.json
	$(VENV)/bin/cfn-lint out/sam.json
	@echo "package-check: out/sam.json passes cfn-lint"

# schemathesis against `make run`'s stack, held to openapi.yaml (FUZZ_CASES cases, default 1000; FUZZ_SEED).
# Both phases run even if the first fails; the target fails if either did.
fuzz: install
	status=0; $(PY) -m devtools.fuzz || status=1; $(PY) -m devtools.fuzz_hostile || status=1; exit $$status

fuzz-short: install
	$(PY) -m devtools.fuzz --short

# Hostile addresses, texts and filenames against `make run`'s stack: no 5xx, no blocked stream, no extra
# recipient or header in any email (devtools/fuzz_hostile.py; payloads in devtools/hostile.py).
fuzz-hostile: install
	$(PY) -m devtools.fuzz_hostile

fuzz-hostile-short: install
	$(PY) -m devtools.fuzz_hostile --short

bench: install
	$(PY) -m devtools.bench

# Break each safety rule on purpose and check that a test notices (issue 4: "mutate it once to see").
mutate: install
	$(PY) -m devtools.mutations

clean:
	rm -rf out .pytest_cache
