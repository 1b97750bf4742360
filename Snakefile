# Why is the posted PyTorch model worse than the "identical" Keras model?
# The whole study at a glance: the config, the stages, and what `all` builds.
# README.md says how to run it; config/README.md documents every key; every
# name and path is defined once, in the package (src/gapstudy/registry.py).

from snakemake.utils import min_version

min_version("9.0")


# The default study; a --configfile replaces it instead of being merged into it
# (a merge would keep the default's variants in a config that leaves them out).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


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
