"""Bring your own port: the diagnosis of a user's PyTorch port against the user's Keras model.

A *port* is data (the config's ``port:`` section, ``spec``): Python entry
points (``module:attribute``, importable from ``port.path``) for the Keras
side (a builder of the compiled model, plus ``fit``'s arguments), for the
PyTorch side (a builder of the module, optimizer, loss and scheduler, the
user's own loader, and the user's training loop or epoch function, called
unchanged), the data, and the metric.

The layers, each a module:

- ``spec``: the ``port:`` config checked and its entry points loaded, before
  anything trains; a bad key, entry point or shape is refused, named.
- ``mapping``: Keras' weights into the PyTorch module and back, layer by
  layer, with layouts converted.
- ``observe``: what the user's loop does, seen from outside (forward hooks,
  the optimizer's step hooks, gradient hooks, the rows of every batch, what
  reaches the loss), with no change to the loop.
- ``fixes``: the settings the workflow can change on the user's objects to
  make one difference match Keras, each alone or all at once.
- ``probes``: static and observed evidence of each known difference.
- ``engine``: the one per-tensor lock-step trace: the port's steps replayed
  by Keras on the same rows, from the same weights, with the same dropout
  masks, compared tensor by tensor in compute order.
- ``train``: an arm (Keras ``fit``, the port, the port with fixes) over seeds.
- ``analysis`` and ``answer``: the tables and the report's front page.
"""
