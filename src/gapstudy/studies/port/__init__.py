"""Bring your own port: the diagnosis of a user's PyTorch port against the user's Keras model.

A *port* is data (the config's ``port:`` section, ``spec``): Python entry
points (``module:attribute``, importable from ``port.path``) for the Keras
side (a builder of the compiled model, plus ``fit``'s arguments), for the
PyTorch side (a builder of the module, optimizer, loss and scheduler, the
user's own loader, and the user's training loop or epoch function, called
unchanged), the data, and the metric.

The layers, each a module (the trace they use, ``mapping``, ``observe`` and
``engine``, is the shared one, ``gapstudy.trace``):

- ``spec``: the ``port:`` config checked and its entry points loaded, before
  anything trains; a bad key, entry point or shape is refused, named.
- ``sides``: the data, each side built, Keras' ``fit`` and the user's loop
  run, predictions scored.
- ``fixes``: the settings the workflow can change on the user's objects to
  make one difference match Keras, each alone or all at once.
- ``probes``: static and observed evidence of each known difference.
- ``diagnose``: the trace of the port against Keras from the same start, and
  the causes ranked (``check`` runs its first steps before any job).
- ``train``: an arm (Keras ``fit``, the port, the port with fixes) over seeds.
- ``analysis`` and ``answer``: the tables and the report's front page.
"""
