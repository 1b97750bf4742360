"""The studies, one subpackage each, each from its config to its report's front page.

- ``seed``: the question as posted, its variants, the lock-step and common random numbers.
- ``catalogue``: the porting pitfalls on the catalogue's own cases.
- ``port``: a user's own PyTorch/Keras pair ("bring your own port").

``report_path`` says where a config's report goes.
"""
