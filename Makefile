# Run `make help` for the targets.
VENV   ?= .venv
SUITE  ?= bullseye
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.DEFAULT_GOAL := help
.PHONY: help host venv image up down test lint syntax molecule pytest

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

host: ## Install and start what the containers need (Docker engine, debootstrap)
	images/prepare-host.sh

venv: $(VENV)/.installed ## Create the virtualenv with the pinned tools

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

image: host ## Build the Debian systemd image (SUITE=bullseye|bookworm)
	images/build.sh $(SUITE)

up: host venv image ## Bring up Airflow on a local container host and print the login
	ansible-playbook -i inventory/local.yml playbooks/local.yml

down: host ## Remove the local container host
	docker rm -f airflow-local

test: host lint pytest molecule ## Run every test: lint, input checks, molecule scenarios

lint: venv ## yamllint, ansible-lint (production profile) and syntax checks
	yamllint --strict .
	ansible-lint
	$(MAKE) syntax

syntax: venv
	ansible-playbook -i inventory/local.yml --syntax-check \
	  playbooks/site.yml playbooks/local.yml playbooks/provision.yml playbooks/deploy.yml playbooks/teardown.yml

pytest: venv image ## Input checks, AWS against a local API, deploy over SSH
	pytest -q tests

molecule: venv image ## Full molecule test of every scenario
	molecule test --all
