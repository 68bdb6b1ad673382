# Run `make help` for the targets.
VENV   ?= .venv
SUITE  ?= bullseye
# Port on 127.0.0.1 that reaches the local host's web UI (make up PORT=8081).
PORT   ?= 8080
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.DEFAULT_GOAL := help
.PHONY: help host venv image images up down clean test lint syntax molecule pytest bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

host: ## Install and start what the containers need (Docker engine, debootstrap)
	images/prepare-host.sh

venv: $(VENV)/.installed ## Create the virtualenv with the pinned tools

# uv (pinned in requirements.txt) installs the rest: seconds where pip takes
# minutes. It trusts the system's certificate store, as pip does.
$(VENV)/.installed: requirements.txt
	@echo "Installing the pinned tools into $(VENV) (about a minute the first time)"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet "$$(grep '^uv==' requirements.txt)"
	UV_SYSTEM_CERTS=true $(VENV)/bin/uv pip install --python $(VENV)/bin/python --requirement requirements.txt
	touch $@

image: host ## Build the Debian systemd image (SUITE=bullseye|bookworm)
	images/build.sh $(SUITE)

images: host ## Build the Debian 11 and 12 images the tests use
	images/build.sh bullseye
	images/build.sh bookworm

up: host venv image ## Bring up Airflow on a local container host and print the login (PORT=8080)
	ansible-playbook -i inventory/local.yml playbooks/local.yml -e local_airflow_port=$(PORT)

down: ## Remove the local container host
	@if command -v docker >/dev/null && docker container inspect airflow-local >/dev/null 2>&1; then \
	  docker rm --force airflow-local >/dev/null && echo "Removed the container airflow-local."; \
	else \
	  echo "No container airflow-local: nothing to remove."; \
	fi

clean: down ## Remove the local host, .cache/ and the virtualenv; keep inventory/credentials/
	rm -rf .cache $(VENV)
	@echo "Kept inventory/credentials/: the generated passwords (and an EC2 key pair's private key)"
	@echo "that your hosts still use. Delete it yourself once no host needs them."

test: host lint pytest molecule ## Run every test: lint, input checks, molecule scenarios

lint: venv ## yamllint, actionlint, ansible-lint (production profile) and syntax checks
	yamllint --strict .
	actionlint
	ansible-lint
	$(MAKE) syntax

syntax: venv
	ansible-playbook -i inventory/local.yml --syntax-check \
	  playbooks/site.yml playbooks/local.yml playbooks/provision.yml playbooks/deploy.yml playbooks/teardown.yml \
	  playbooks/backup.yml playbooks/restore.yml

# Two workers: most tests wait on a short-lived ansible-playbook; the ones
# that build an Airflow host share one worker (group "airflow_host") so two
# installs never contend for the package caches.
pytest: venv image ## Input checks, AWS against a local API, deploy over SSH, the README's commands
	pytest -q --numprocesses 2 --dist loadgroup --durations=10 tests

molecule: venv images ## Full molecule test of every scenario
	molecule test --all

# Several minutes per version on fresh containers; see bench/bench.py --help.
bench: venv images ## Time a plain install, the converge and its re-runs; Airflow's memory (BENCH_ARGS=--ssh)
	python bench/bench.py $(BENCH_ARGS)
