"""The posted model's gradients without the autograd engine, bit for bit.

For a 10-100-1 network and 32-sample batches, ``loss.backward()`` costs
three quarters of a training step: the engine's graph walk, not the
arithmetic. This module calls the very ATen operations that autograd's
backward formulas call for this graph (``MeanBackward0``, ``PowBackward0``,
``SubBackward0``, ``MseLossBackward0``, ``AddmmBackward0``, ``ReluBackward0``,
``TanhBackward0``, and the engine's ``sum_to`` for broadcast inputs), with
the same operands, layouts and order, so the gradients carry the same bits
(``tests/test_train_torch.py`` compares them with autograd's for every
combination of switches this path accepts). Switches that are about autograd
itself (``graph``) or about running with grad enabled (``eval_mode: off``)
keep autograd: ``supports`` says which.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

ACTIVATIONS = {"none": None, "relu": torch.relu, "tanh": torch.tanh}


def supports(switches: dict) -> bool:
    """Whether ``ManualStep`` computes this variant's steps (else: autograd)."""
    return switches["graph"] == "plain" and switches["eval_mode"] == "on"


def neg_two_over(numel: int, like: torch.Tensor, cache: dict) -> torch.Tensor:
    """-2 * (1 / numel) in ``like``'s dtype, rounded as autograd rounds 1 / numel; kept in ``cache``.

    MeanBackward0 gives grad / numel; scaling by -2 is exact, so
    (-2 * that) * diff has the bits of -(that * (2 * diff)).
    """
    key = numel, like.dtype
    if key not in cache:
        cache[key] = torch.ones((), dtype=like.dtype, device=like.device) / numel * -2
    return cache[key]


class ManualStep:
    """Forward, loss and gradients of one batch, written into ``grad`` (a flat tensor).

    ``params`` are the four parameter views (hidden weight and bias, output
    weight and bias) of the flat parameter tensor, ``grads`` the same views
    of ``grad``.
    """

    def __init__(self, params, grads, target_shape: str, loss: str, activation: str):
        if target_shape not in ("posted", "matched"):
            raise ValueError(f"unknown target_shape {target_shape!r}")
        if loss not in ("handwritten", "framework"):
            raise ValueError(f"unknown loss {loss!r}")
        self.w1, self.b1, self.w2, self.b2 = params
        self.w1t, self.w2t = self.w1.t(), self.w2.t()  # views: they follow in-place updates
        self.g_w1, self.g_b1, self.g_w2, self.g_b2 = grads
        self.g_b1_row, self.g_b2_row = self.g_b1.view(1, -1), self.g_b2.view(1, -1)
        self.posted, self.handwritten = target_shape == "posted", loss == "handwritten"
        self.activation, self.act = activation, ACTIVATIONS[activation]
        self._scale = {}

    def _neg_two_over(self, numel: int, like: torch.Tensor) -> torch.Tensor:
        return neg_two_over(numel, like, self._scale)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The batch loss (a 0-d tensor); the gradients land in ``grads``."""
        hidden = torch.addmm(self.b1, x, self.w1t)  # F.linear
        a = self.act(hidden) if self.act is not None else hidden
        out = torch.addmm(self.b2, a, self.w2t)  # (B, 1)
        pred = out if self.posted else out.reshape(y.shape)

        if self.handwritten:
            diff = y - pred  # (B, B) when posted: broadcast
            loss = torch.mean(torch.pow(diff, 2))
            # PowBackward0 (grad * 2 * diff), then SubBackward0 (-grad for pred), folded.
            g_pred = diff * self._neg_two_over(diff.numel(), diff)
        else:
            # F.mse_loss(pred, y): broadcast both, then mse_loss; its backward, then sum_to.
            loss = F.mse_loss(pred, y)  # warns about broadcasting, as posted
            pred_b, y_b = torch.broadcast_tensors(pred, y)
            g_pred = torch.ops.aten.mse_loss_backward(torch.ones_like(loss), pred_b, y_b, 1)
        if self.posted:
            g_out = g_pred.sum(1, keepdim=True)  # sum_to (B, B) -> (B, 1)
        else:
            g_out = g_pred.reshape(out.shape)  # ViewBackward0

        # AddmmBackward0 of the output layer (mat2 = w2.t()), then TBackward0.
        g_a = torch.mm(g_out, self.w2)
        torch.mm(g_out.t(), a, out=self.g_w2)
        torch.sum(g_out, 0, keepdim=True, out=self.g_b2_row)
        if self.activation == "relu":
            g_hidden = torch.ops.aten.threshold_backward(g_a, a, 0)
        elif self.activation == "tanh":
            g_hidden = torch.ops.aten.tanh_backward(g_a, a)
        else:
            g_hidden = g_a
        torch.mm(g_hidden.t(), x, out=self.g_w1)
        torch.sum(g_hidden, 0, keepdim=True, out=self.g_b1_row)
        return loss
