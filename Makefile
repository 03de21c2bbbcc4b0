# privacy-desk — `make run` starts the whole stack locally, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test unit package-check bench fuzz install clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: install
	$(PY) -u -m devtools.run_local

test: install
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory package-check

unit: install
	$(PY) -m pytest -q

# The dev stage's SAM template must pass cfn-lint (a deployment check that needs no AWS account).
package-check: install
	rm -rf out && AWS_DEFAULT_REGION=eu-west-3 $(VENV)/bin/chalice package --stage dev out/ >/dev/null
	$(PY) -m devtools.patch_sam out/sam.json
	$(VENV)/bin/cfn-lint out/sam.json
	@echo "package-check: out/sam.json passes cfn-lint"

bench: install
	$(PY) -m devtools.bench

clean:
	rm -rf out .pytest_cache
