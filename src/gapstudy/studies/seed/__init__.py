"""The seed study: the user's posted Keras and PyTorch code, its variants, over seeds and devices.

- ``data``: the user's data set; ``posted``: the user's code, transcribed plainly.
- ``run`` and ``records``: a training job's seeds and its run records;
  ``plain_run``: the user's code run as a user runs it.
- ``lockstep`` and ``crn``: two frameworks from the same draws.
- ``aggregate``, ``claims``, ``answer`` and ``figures``: tables, the front page and figures.
"""
