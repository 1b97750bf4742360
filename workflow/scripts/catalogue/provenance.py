"""Snakemake → gapstudy.report.pages: the catalogue's config as the workflow read it, and every package's version."""

import html
import json
from pathlib import Path

import pandas as pd

from gapstudy.report import pages
from gapstudy.io import atomic_write_text, open_log

log = open_log(snakemake.log[0])
environment = json.loads(Path(snakemake.input.environment).read_text())
packages = pd.DataFrame(sorted(environment["distributions"].items()), columns=["package", "version"])
body = ("<h3>Config and software</h3><p>The config as the workflow read it:</p><pre>"
        + html.escape(json.dumps(snakemake.params.config, indent=1, sort_keys=True)) + "</pre>"
        + f"<p>Python {html.escape(environment['python'])} on {html.escape(environment['platform'])}.</p>"
        + packages.to_html(index=False, border=0))
atomic_write_text(Path(snakemake.output[0]), pages.html_page("Config and software", body))
log(f"{len(packages)} packages")
