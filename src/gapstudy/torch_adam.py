"""Adam on one flat parameter tensor, with PyTorch's update rule.

``torch.optim.Adam`` spends most of a small model's step in Python
bookkeeping. This class performs the very same tensor operations as
``torch.optim.adam._single_tensor_adam`` (no weight decay, no AMSGrad), in
the same order, once on a flat tensor holding every parameter instead of
once per parameter: elementwise operations do not care how elements are
grouped, so the updates are bit for bit those of ``torch.optim.Adam``
(``tests/test_train_torch.py`` checks it).
"""

from __future__ import annotations

import torch


class FlatAdam:
    def __init__(self, flat: torch.Tensor, lr: float, betas: tuple[float, float], eps: float):
        self.flat, self.lr, self.eps = flat, lr, eps
        self.beta1, self.beta2 = betas
        self.exp_avg = torch.zeros_like(flat, memory_format=torch.preserve_format)
        self.exp_avg_sq = torch.zeros_like(flat, memory_format=torch.preserve_format)
        self.step_count = 0

    @torch.no_grad()
    def step(self) -> None:
        grad = self.flat.grad
        self.step_count += 1
        step = self.step_count
        self.exp_avg.lerp_(grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        bias_correction1 = 1 - self.beta1**step
        bias_correction2 = 1 - self.beta2**step
        step_size = self.lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        denom = (self.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
        self.flat.addcdiv_(self.exp_avg, denom, value=-step_size)
