# Two commands do everything on a fresh machine (README.md):
#   make study   set up, run the default study, build results/report.html
#                (CONFIG=config/catalogue.yaml: the catalogue, results/catalogue/report.html;
#                 CONFIG=examples/cnn/config.yaml: a port's diagnosis, results/port/cnn/report.html)
#   make test    set up, run the tests
VENV ?= .venv
PYTHON ?= python3
CORES ?= 2
CONFIG ?= config/config.yaml
# A catalogue config (config/catalogue*.yaml) writes under results/catalogue/,
# a port config (examples/<name>/config.yaml) under results/port/<port.name>/.
REPORT ?= $$($(VENV)/bin/python -m gapstudy.studies.report_path $(CONFIG))

.PHONY: setup study test benchmark

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

setup: $(VENV)/.installed

study: setup
	$(VENV)/bin/snakemake --cores $(CORES) --configfile $(CONFIG)
	$(VENV)/bin/snakemake --cores $(CORES) --configfile $(CONFIG) --report $(REPORT)

test: setup
	$(VENV)/bin/python -m pytest

# The speed benchmark (README, "Speed"): about an hour and a half on 2 cores: the default study, the
# catalogue, the diagnosis config and the example ports end to end, each beside its time before issue 24.
benchmark: setup
	$(VENV)/bin/python -m gapstudy.benchmark
