# loginless: `make run` starts the whole system on this machine, `make test` runs every test level.
# Both install what is missing first (uv, Python packages, Kafka and s3proxy jars, Mailpit, Helm), cached in .cache/.

SHELL := /bin/bash
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
STACK := $(UV) run --frozen python -m loginless.devstack
PYTEST := $(UV) run --frozen pytest

.PHONY: help install provision provision-deploy run stop test test-unit test-contract test-integration test-e2e \
        test-deploy image bench contracts translations lint clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

$(UV):
	@echo "[install] uv $(UV_VERSION)"
	python3 -m pip install --quiet --user "uv==$(UV_VERSION)"

.venv/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@

install: .venv/.installed ## Python environment (uv sync of the locked workspace)

provision: install ## download Kafka and s3proxy jars and build Mailpit (cached in .cache/)
	$(STACK) provision

provision-deploy: install ## build Helm from the Go module proxy (cached in .cache/; about 6 minutes the first time)
	$(STACK) provision helm

run: provision ## the whole system on 127.0.0.1 with real PostgreSQL, Kafka, S3 and SMTP; Ctrl-C stops it
	$(STACK) run

stop: install ## stop what `make run` started (from another terminal)
	$(STACK) stop

test: install ## every level against an isolated stack of its own, torn down afterwards; the chart's offline checks
	$(STACK) provision kafka s3proxy mailpit stripe-mock helm einvoice-validator
	UV=$(UV) bash deploy/helm/validate.sh
	$(STACK) test -- $(PYTEST) -m "unit or contract or integration or e2e"

test-unit: install ## no I/O
	$(PYTEST) -m unit

test-contract: install ## event schemas and AsyncAPI documents against the committed ones
	$(PYTEST) -m contract

test-integration: provision ## real PostgreSQL, Kafka and S3 (services not started)
	$(STACK) test --infra-only -- $(PYTEST) -m integration

test-e2e: provision ## the running services, through their HTTP interfaces
	$(STACK) test -- $(PYTEST) -m e2e

test-deploy: provision-deploy ## the Helm chart, offline: lint, Kubernetes API schemas, the rendered manifests' tests
	UV=$(UV) bash deploy/helm/validate.sh
	$(PYTEST) -m unit tests/deploy

image: ## the container image, with buildah as root (not run by CI: minutes, and root); docs/deploy.md
	bash deploy/image/build.sh

bench: provision ## benchmarks against an isolated stack; results go in docs/benchmarks.md by hand
	$(STACK) test --infra-only -- $(UV) run --frozen python bench/eventstore.py

contracts: install ## refresh the committed event schemas and AsyncAPI documents after an intended change
	$(UV) run --frozen python -m loginless.events.schemas docs/events/schemas events/pyproject.toml
	for service in $$($(STACK) services); do \
	  $(UV) run --frozen python -m loginless.$$service asyncapi > docs/asyncapi/$$service.json; done

translations: install ## guest pages' messages: extract them, merge them into the .po catalogs, compile the .mo files
	$(UV) run --frozen python -m loginless.testkit.translations

lint: install
	$(UV) run --frozen ruff check .

clean: ## remove local data and logs (keeps downloads in .cache/)
	rm -rf var/
