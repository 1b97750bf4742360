"""The two declared claims the front page speaks from in the user's words: the gap and its fix.

Small and pure, shared by the front page (``gapstudy.studies.seed.answer``) and the
user's figures (``gapstudy.studies.seed.figures.users_figures``), so that both show the
same runs.
"""

from __future__ import annotations

import pandas as pd


def gap_and_fix(hypotheses: pd.DataFrame | None):
    """(gap row, fix row) of the hypotheses table, or None.

    The gap is the first declared ``worse`` claim (devices in name order);
    the fix the first declared ``equivalent`` claim on the same framework and
    device. Their reference (the gap row's ``reference``) is the third run.
    """
    if hypotheses is None or hypotheses.empty:
        return None
    for _, gap in hypotheses[hypotheses["claim"] == "worse"].sort_values("device", kind="stable").iterrows():
        fixes = hypotheses[(hypotheses["claim"] == "equivalent") & (hypotheses["framework"] == gap["framework"])
                           & (hypotheses["device"] == gap["device"])]
        if not fixes.empty:
            return gap, fixes.iloc[0]
    return None
