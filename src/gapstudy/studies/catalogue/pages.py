"""The catalogue report's table pages and their captions, defined once (rules and tests read them here)."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

CATALOGUE = "Catalogue"
EVIDENCE = "Evidence"
PROVENANCE = "Provenance"


@dataclass(frozen=True)
class Page:
    name: str
    title: str
    caption: str
    category: str


PAGES = MappingProxyType({p.name: p for p in (
    Page("pitfalls", "Every pitfall: effect, share of the gap, the fixed port's TOST, first divergence",
         "One row per pitfall, ranked by the size of its effect. effect: the fixed port with this pitfall "
         "alone against the fixed port, ratio of geometric means of the case's metric, paired {level} % "
         "t-interval by seed, p (paired t-test) and p Holm-corrected over the pitfalls. gap: the port with every "
         "pitfall against Keras (Welch). share: the pitfall's paired change over that gap, bootstrap interval "
         "(PyTorch seeds resampled jointly, Keras' apart). fixed: TOST of the fixed port against Keras at the "
         "margin, Holm over the cases, with its power at the observed spread. Intervals are per comparison; "
         "the verdicts are Holm-corrected within their family. diverged_seeds: seeds whose metric was not "
         "finite, left out of the ratio. first_*: the lock-step; control_*: the fixed port's own trace.",
         CATALOGUE),
    Page("arms", "Every arm of every case: geometric mean of its metric",
         "Per case and arm: the geometric mean of the case's validation metric over the seeds, with a {level} % "
         "t-interval on the log scale, and the mean accuracy of classifiers.", EVIDENCE),
    Page("traces", "Lock-step: where each port first leaves Keras",
         "One trace per pitfall and one of the fixed port (the control: float32 round-off through another "
         "framework's kernels; a difference the control shares is not counted against a pitfall). "
         "first_step 0 compares initialisations.", EVIDENCE),
    Page("runs", "Every run", "One row per case, arm and seed: the scores, the switches and the time.", EVIDENCE),
)})
