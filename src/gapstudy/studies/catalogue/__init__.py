"""The catalogue of PyTorch <-> Keras porting pitfalls (``config/catalogue.yaml``).

A *case* (``cases.CASES``) is a dataset generator, a model family, a Keras
reference, a PyTorch port of it and the pitfalls a port can carry, each a
switch with a "pitfall" and a "fixed" value. For every case the workflow
trains the Keras reference, the port with every pitfall, the fixed port and,
for each pitfall, the fixed port with that one pitfall, over seeds
(``keras_ref``, ``torch_port``); it measures each pitfall's effect, its share
of the port's gap and the fixed port's equivalence to Keras (``analysis``),
and traces one step at a time, tensor by tensor, where the port with the
pitfall first leaves Keras (``lockstep``): each arm is a port (``ports``),
traced by the engine that traces a user's (``gapstudy.studies.port``).
"""
