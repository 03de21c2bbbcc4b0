# privacy-desk — `make run` starts the whole stack locally, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: i18n run test unit roles browser screenshots package package-check deploy bench fuzz fuzz-short fuzz-hostile fuzz-hostile-short mutate install clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# Translations (chalicelib/templating.py): extract every marked sentence of the templates, merge it into each
# language's catalog (new ones arrive empty; test_catalogs fails until they are translated), and compile the
# .mo files, which are committed and ship in the Lambda package. Stable output: no dates, no wrapping.
I18N := chalicelib/locale
i18n: install
	$(VENV)/bin/pybabel -q extract -F babel.cfg --no-location --sort-output --omit-header --no-wrap \
		-o $(I18N)/messages.pot chalicelib/templates
	$(VENV)/bin/pybabel -q update -i $(I18N)/messages.pot -d $(I18N) --no-fuzzy-matching \
		--ignore-pot-creation-date --no-wrap
	$(VENV)/bin/pybabel -q compile -d $(I18N)

run: install
	$(PY) -u -m devtools.run_local

# The browser tests' tools (tests/browser.py): Debian's chromium and chromium-driver, installed with apt-get when
# missing (as root, or say what to run), and axe-core pinned from npm into .browser/.
AXE_VERSION := 4.14.1
AXE := .browser/node_modules/axe-core/axe.min.js
browser: $(AXE)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } || { \
				echo "make browser: apt-get could not install chromium and chromium-driver (see above)" >&2; exit 1; }; \
		else \
			echo "make browser: chromium and chromedriver are missing; install them (Debian: sudo apt-get install chromium chromium-driver)" >&2; \
			exit 1; \
		fi; }

$(AXE):
	@command -v npm >/dev/null || { echo "make browser: npm is needed to install axe-core" >&2; exit 1; }
	mkdir -p .browser && cd .browser && npm install --silent --no-audit --no-fund --no-save axe-core@$(AXE_VERSION)

# PNGs of the hosted privacy page on a phone (390 px) and a desktop, for the docs (docs/privacy-page-*.png).
screenshots: install browser
	$(PY) -m devtools.screenshots

# One pytest worker per core; a test module stays on one worker (module fixtures: a packaged template, a stack).
PARALLEL := -n auto --dist loadfile

# Every test runs each function under its role (devtools/iam.py) and records what it calls; then each role must
# grant exactly that (devtools/roles.py): a grant no function used fails here, a missing one fails its test.
IAM_CALLS := out/iam-calls
test: install browser
	$(VENV)/bin/ruff check app.py chalicelib devtools tests
	rm -rf $(IAM_CALLS)
	IAM_RECORD_DIR=$(CURDIR)/$(IAM_CALLS) $(PY) -m pytest -q $(PARALLEL)
	$(PY) -m devtools.roles check $(IAM_CALLS)
	$(MAKE) --no-print-directory package-check
	$(MAKE) --no-print-directory fuzz-short
	$(MAKE) --no-print-directory fuzz-hostile-short

unit: install browser
	$(PY) -m pytest -q $(PARALLEL)

# Rewrite deploy/roles.json from what the functions call: the suite runs refusing nothing and recording every
# call, each role becomes exactly what its function was seen calling, and the template follows.
roles: install browser
	rm -rf $(IAM_CALLS)
	IAM_RECORD_ONLY=1 IAM_RECORD_DIR=$(CURDIR)/$(IAM_CALLS) $(PY) -m pytest -q $(PARALLEL)
	$(PY) -m devtools.roles write $(IAM_CALLS)
	$(PY) -m devtools.template deploy/resources.json

# The stage's whole stack as one template, without an AWS account: Chalice's functions and API merged with
# deploy/resources.json (tables, bucket, queues, secret, sender, alarms; generated from the models), then
# patched (devtools/patch_sam.py). STAGE=dev or prod.
STAGE ?= dev
REGION ?= eu-west-3
package: install
	rm -rf out && mkdir -p out
	AWS_DEFAULT_REGION=$(REGION) $(PY) -m devtools.template deploy/resources.json
	AWS_DEFAULT_REGION=$(REGION) $(VENV)/bin/chalice package --stage $(STAGE) \
		--merge-template deploy/resources.json out/ >/dev/null
	$(PY) -m devtools.patch_sam out/sam.json

# Both stages' templates must pass cfn-lint and checkov (skips and their reasons: deploy/checkov-skips.md).
# checkov has its own venv: it pins boto3 and packaging to versions the app's venv can't have.
CHECKOV_VENV := .checkov-venv
CHECKOV := $(CHECKOV_VENV)/bin/checkov
$(CHECKOV): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/pip || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-checkov.txt
	touch $(CHECKOV)

package-check: install $(CHECKOV)
	for stage in dev prod; do \
		$(MAKE) --no-print-directory package STAGE=$$stage && \
		$(VENV)/bin/cfn-lint out/sam.json && \
		$(CHECKOV) --quiet --compact --skip-download --framework cloudformation -f out/sam.json \
			--skip-check $$($(PY) -m devtools.checkov_skips deploy/checkov-skips.md) || exit 1; \
		echo "package-check: $$stage's out/sam.json passes cfn-lint and checkov"; \
	done

# Deploy the stage's stack (needs AWS credentials): SENDER=privacy@example.com ARTIFACTS=<an S3 bucket of
# yours for the code>; optional ALARM_EMAIL, PUBLIC_BASE_URL (a custom domain pointing at the API),
# LOG_RETENTION_DAYS (the template's default: 90). The template is over the 51,200 bytes CloudFormation takes
# inline, so `deploy` uploads it to ARTIFACTS too.
deploy: package
	@test -n "$(SENDER)" -a -n "$(ARTIFACTS)" || { echo "usage: make deploy STAGE=dev SENDER=... ARTIFACTS=..."; exit 2; }
	aws cloudformation package --region $(REGION) --template-file out/sam.json --s3-bucket $(ARTIFACTS) \
		--output-template-file out/packaged.yaml
	aws cloudformation deploy --region $(REGION) --template-file out/packaged.yaml --s3-bucket $(ARTIFACTS) \
		--stack-name privacy-desk-$(STAGE) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		--parameter-overrides SenderEmail=$(SENDER) AlarmEmail=$(ALARM_EMAIL) PublicBaseUrl=$(PUBLIC_BASE_URL) \
		$(if $(LOG_RETENTION_DAYS),LogRetentionDays=$(LOG_RETENTION_DAYS))

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
