"""The frameworks: each trainer of the posted model and its fast paths.

- ``train_torch`` (``torch_model``, ``torch_adam``, ``torch_backward``): the
  user's PyTorch loop, seed by seed; ``torch_stacked``: the seeds together.
- ``train_keras`` (``keras_model``): Keras 3's ``fit`` on TensorFlow, PyTorch
  or JAX, seed by seed; ``keras_stacked``: the seeds together.
  ``train_keras2``: Keras 2 (``tf_keras``), its own stacked path.
- ``stacked_ops`` and ``loader_draws``: what the stacked paths share.
- ``metrics`` (the user's scores) and ``runtime`` (threads, devices, versions).

Each module's import graph is its own: a trainer's code hash (``gapstudy.sources``)
holds that trainer and not the others.
"""
