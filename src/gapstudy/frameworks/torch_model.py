"""The posted PyTorch model (``TorchLinearModel``) and its initialisers.

Both PyTorch trainers (``train_torch``, seed by seed, and ``torch_stacked``,
the seeds together), the lock-step and the posted code draw a seed's initial
weights here; they import this module and not each other.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def init_weight_(weight: torch.Tensor, kind: str) -> None:
    """Re-draw a weight in place from the global generator (``torch_default`` keeps nn.Linear's)."""
    fan_out, fan_in = weight.shape
    if kind == "xavier_normal":
        nn.init.xavier_normal_(weight)
    elif kind == "xavier_uniform":
        nn.init.xavier_uniform_(weight)
    elif kind == "glorot_normal_truncated":
        # Keras' GlorotNormal: truncated at ±2 std, std divided by the truncated
        # normal's own std (.87962566103423978) so the variance stays 2 / (fan_in + fan_out).
        std = math.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978
        nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2 * std, b=2 * std)
    elif kind != "torch_default":
        raise ValueError(f"unknown weight_init {kind!r}")


class TorchLinearModel(nn.Module):
    """The posted model; the seed is set inside, as in the question."""

    def __init__(self, input_dim: int = 10, hidden_units: int = 100, random_seed: int = 0,
                 weight_init: str = "xavier_normal", bias_init: str = "zeros"):
        super().__init__()
        torch.manual_seed(random_seed)
        self.weight_init, self.bias_init = weight_init, bias_init
        self.hidden_layer = nn.Linear(input_dim, hidden_units)
        self.initialize_layer(self.hidden_layer)
        self.output_layer = nn.Linear(hidden_units, 1)
        self.initialize_layer(self.output_layer)

    def initialize_layer(self, layer: nn.Linear) -> None:
        init_weight_(layer.weight.data, self.weight_init)
        if self.bias_init == "zeros":
            nn.init.constant_(layer.bias, 0)

    def forward(self, x):
        return self.output_layer(self.hidden_layer(x))

    def keras_layout(self) -> list[np.ndarray]:
        """Weights as Keras stores them: kernels (in, out), then biases."""
        return [
            self.hidden_layer.weight.detach().cpu().numpy().T,
            self.hidden_layer.bias.detach().cpu().numpy(),
            self.output_layer.weight.detach().cpu().numpy().T,
            self.output_layer.bias.detach().cpu().numpy(),
        ]
