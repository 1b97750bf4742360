"""Adam on one flat parameter tensor, with PyTorch's or Keras' update rule.

``torch.optim.Adam`` spends most of a small model's step in Python
bookkeeping. With ``rule="torch"`` this class performs the very same tensor
operations as ``torch.optim.adam._single_tensor_adam`` (no weight decay, no
AMSGrad), in the same order, once on a flat tensor holding every parameter
instead of once per parameter: elementwise operations do not care how
elements are grouped, so the updates are bit for bit those of
``torch.optim.Adam`` (``tests/test_train_torch.py`` checks it).

``rule="keras"`` is ``keras.optimizers.Adam.update_step``: the learning rate
folds in both bias corrections, computed in the parameters' dtype, and
epsilon is added to sqrt(v) without bias correction ("epsilon hat").
"""

from __future__ import annotations

import torch


class FlatAdam:
    def __init__(self, flat: torch.Tensor, lr: float, betas: tuple[float, float], eps: float,
                 rule: str = "torch"):
        if rule not in ("torch", "keras"):
            raise ValueError(f"unknown Adam rule {rule!r}; allowed: torch, keras")
        self.flat, self.lr, self.eps, self.rule = flat, lr, eps, rule
        self.beta1, self.beta2 = betas
        self.exp_avg = torch.zeros_like(flat, memory_format=torch.preserve_format)
        self.exp_avg_sq = torch.zeros_like(flat, memory_format=torch.preserve_format)
        self.step_count = 0
        self._denom = torch.empty_like(flat)

    def step(self, grad: torch.Tensor) -> None:
        """One update; call it under ``torch.no_grad()`` when the parameters require grad."""
        self.step_count += 1
        if self.rule == "keras":
            self._keras_step(grad)
            return
        step, beta1, beta2 = self.step_count, self.beta1, self.beta2
        exp_avg, exp_avg_sq = self.exp_avg, self.exp_avg_sq
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = self.lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        # (sqrt(v) / bias_correction2_sqrt) + eps, as torch.optim.Adam, in a reused buffer.
        denom = torch.sqrt(exp_avg_sq, out=self._denom).div_(bias_correction2_sqrt).add_(self.eps)
        self.flat.addcdiv_(exp_avg, denom, value=-step_size)

    def _keras_step(self, grad: torch.Tensor) -> None:
        dtype, device = self.flat.dtype, self.flat.device
        scalar = lambda x: torch.tensor(x, dtype=dtype, device=device)  # noqa: E731
        local_step = scalar(self.step_count)
        beta_1_power = torch.pow(scalar(self.beta1), local_step)
        beta_2_power = torch.pow(scalar(self.beta2), local_step)
        alpha = scalar(self.lr) * torch.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        self.exp_avg.add_((grad - self.exp_avg) * (1 - self.beta1))
        self.exp_avg_sq.add_((torch.square(grad) - self.exp_avg_sq) * (1 - self.beta2))
        self.flat.sub_((self.exp_avg * alpha) / (torch.sqrt(self.exp_avg_sq) + self.eps))
