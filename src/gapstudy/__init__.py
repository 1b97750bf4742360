"""Why is the posted PyTorch model worse than the "identical" Keras one?

The package holds every piece of logic of the study; the Snakemake scripts
under ``workflow/scripts`` only translate the ``snakemake`` object into calls
of these modules, so that the tests exercise the very same code.
"""

__version__ = "0.1.0"
