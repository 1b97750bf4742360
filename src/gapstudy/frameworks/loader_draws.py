"""The random draws of a PyTorch ``DataLoader`` pass, without the loader.

Both the user's PyTorch loop (``train_torch``, ``torch_stacked``) and Keras
on its PyTorch backend (whose ``fit`` iterates a ``DataLoader``:
``keras_stacked``) consume PyTorch's global generator this way; one module
for both, so that neither trainer's code hash holds the other trainer.
"""

from __future__ import annotations

import torch


def epoch_order(n: int, shuffle: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """The sample order of one pass of ``DataLoader(shuffle=shuffle)``.

    Consumes the global generator (or ``generator``, a copy of its state)
    exactly as a DataLoader does: the iterator draws its base seed when
    created, then ``RandomSampler`` draws a seed for a fresh generator that
    makes the permutation.
    """
    torch.empty((), dtype=torch.int64).random_(generator=generator)  # _BaseDataLoaderIter._base_seed
    if not shuffle:
        return torch.arange(n)
    seed = int(torch.empty((), dtype=torch.int64).random_(generator=generator).item())
    generator = torch.Generator()
    generator.manual_seed(seed)
    return torch.randperm(n, generator=generator)


def epoch_batches(n: int, batch_size: int, shuffle: bool = True) -> list[torch.Tensor]:
    """The index batches one pass of ``DataLoader(shuffle=shuffle)`` yields."""
    return list(torch.split(epoch_order(n, shuffle), batch_size))
