"""``python -m gapstudy.studies.report_path CONFIG``: where the report of a config goes (the Makefile asks).

The seed study's report is ``results/report.html``; a catalogue config's ``results/catalogue/report.html``;
a port config's ``results/port/<port.name>/report.html``.
"""

from __future__ import annotations

import sys

import yaml


def report_path(config: dict) -> str:
    from gapstudy.studies.catalogue import paths as catalogue_paths
    from gapstudy.studies.catalogue.config import is_catalogue
    from gapstudy.studies.port import paths as port_paths
    from gapstudy.studies.port.spec import is_port

    if is_port(config):
        return port_paths.paths(str(config["port"].get("name")))["report"]
    if is_catalogue(config):
        return catalogue_paths.REPORT
    return "results/report.html"


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(report_path(yaml.safe_load(handle) or {}))
