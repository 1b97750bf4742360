"""Statistics: paired effects, intervals, TOST, family-wise corrections (``stats``), and repeatability (``determinism``)."""
