# Why is the posted PyTorch model worse than the "identical" Keras model?
# The whole study at a glance: the config, the stages, and what `all` builds.
# README.md says how to run it; config/README.md documents every key; every
# name and path is defined once, in the package (src/gapstudy/registry.py,
# src/gapstudy/studies/catalogue/ for the catalogue of porting pitfalls, and
# src/gapstudy/studies/port/ for a user's own port).

from snakemake.utils import min_version

from gapstudy.studies.catalogue.config import is_catalogue
from gapstudy.studies.port.spec import is_port

min_version("9.0")


# The default study; a --configfile replaces it instead of being merged into it
# (a merge would keep the default's variants in a config that leaves them out).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


if is_port(config):
    # A user's own port (a `port:` config, examples/*/config.yaml): the user's
    # Keras model and PyTorch loop, traced to the first divergent tensor,
    # probed, and trained over seeds with each fix the diagnosis can apply.

    report: "report/port.rst"

    include: "workflow/rules/port/common.smk"
    include: "workflow/rules/port/data.smk"
    include: "workflow/rules/port/diagnose.smk"
    include: "workflow/rules/port/train.smk"
    include: "workflow/rules/port/statistics.smk"
    include: "workflow/rules/port/report.smk"

    rule all:
        input:
            rules.port_answer.output,
            rules.port_provenance.output,
            rules.port_figure.output,
            expand(rules.port_page.output, page=list(port_paths.PAGES)),

elif not is_catalogue(config):
    # The seed question: the user's code in both frameworks, the fix, the diagnosis.

    report: "report/workflow.rst"

    include: "workflow/rules/common.smk"
    include: "workflow/rules/data.smk"
    include: "workflow/rules/train.smk"
    include: "workflow/rules/lockstep.smk"
    include: "workflow/rules/crn.smk"
    include: "workflow/rules/aggregate.smk"
    include: "workflow/rules/figures.smk"
    include: "workflow/rules/report.smk"

    rule all:
        input:
            rules.answer.output,
            rules.provenance.output,
            expand(rules.page.output, page=PAGE_NAMES),
            expand(rules.figure.output, figure=FIGURE_NAMES),

else:
    # The catalogue of porting pitfalls (config/catalogue.yaml): cases, their
    # arms over seeds, a lock-step trace per pitfall, the ranked table.

    report: "report/catalogue.rst"

    include: "workflow/rules/catalogue/common.smk"
    include: "workflow/rules/catalogue/data.smk"
    include: "workflow/rules/catalogue/train.smk"
    include: "workflow/rules/catalogue/lockstep.smk"
    include: "workflow/rules/catalogue/statistics.smk"
    include: "workflow/rules/catalogue/report.smk"

    rule all:
        input:
            rules.catalogue_answer.output,
            rules.catalogue_provenance.output,
            expand(rules.catalogue_page.output, page=CATALOGUE_PAGES),
            expand(rules.catalogue_figure.output, figure=CATALOGUE_FIGURES),
