"""The trace engine: one lock-step, tensor by tensor, shared by the studies.

- ``mapping``: Keras weights onto a PyTorch module and back, layer by layer.
- ``observe``: what a PyTorch training loop does, seen from outside (hooks).
- ``engine``: the comparison in compute order, the initialisations as
  distributions, the first divergence, and Keras replaying the port's rows.
"""
