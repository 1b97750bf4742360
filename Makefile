# Two commands do everything on a fresh machine (README.md):
#   make study   set up, run the default study, build results/report.html
#   make test    set up, run the tests
VENV ?= .venv
PYTHON ?= python3
CORES ?= 2
CONFIG ?= config/config.yaml

.PHONY: setup study test benchmark

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

setup: $(VENV)/.installed

study: setup
	$(VENV)/bin/snakemake --cores $(CORES) --configfile $(CONFIG)
	$(VENV)/bin/snakemake --cores $(CORES) --configfile $(CONFIG) --report results/report.html

test: setup
	$(VENV)/bin/python -m pytest

# The speed benchmark (README, "Speed"): about 40 minutes on 2 cores.
benchmark: setup
	$(VENV)/bin/python -m gapstudy.benchmark
