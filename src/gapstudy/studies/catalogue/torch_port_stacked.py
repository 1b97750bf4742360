"""A catalogue job's seeds of an MLP port trained at once: ``torch.func.vmap`` over each seed's own step.

A catalogue MLP run is thousands of steps of a few small ATen calls each;
its cost is dispatch, not arithmetic (the seed case's 20 seeds took 37 s
seed by seed). Here the seeds of a job are stacked: every parameter of the
port gets a leading seed axis, and one call of
``vmap(grad_and_value(loss))`` computes every seed's loss and gradient, on
its own batch of its own epoch order, through the port's own module
(``functional_call`` of ``torch_port.build``'s model) and the port's own
loss (``Port.data_loss`` and ``torch_port.l2_penalty``). The rest of a step
is the port's, seed by seed along the new axis:

- clipping as ``clip_grad_norm_`` computes it, each seed's norms of its own
  gradients (``clip``);
- the port's optimizer (``torch_port.optimizer``: Keras' Adam rule or
  torch's, with its weight decay) over the stacked tensors; both are
  elementwise, so a seed's row is updated as its own tensor would be;
- the scheduler, where a case has one, shared (every seed's rate is the same).

Initial weights, epoch orders and validation are each seed's own: a
``torch_port.Port`` is built under each seed (its init, its generator), its
``order`` draws every epoch, and after training each seed's rows go back
into its own module, which ``Port.evaluate`` validates as seed by seed.

Not bit for bit: under ``vmap`` a ``Linear`` is a batched product (another
kernel than ``addmm``) and a loss's reductions run over a batched tensor,
so each step rounds differently in the last bits. The test
(``tests/test_catalogue.py``) holds every MLP arm's stacked seeds to
``torch_port.train`` within ``TOLERANCE``, and a seed's result in stacks of
other sizes to each other. The CNN and the LSTM train seed by seed: under
``vmap`` the CNN's step was about 1.4 times faster per seed and its
convolutions then dominate; ``nn.LSTM`` has no batching rule (slower).
"""

from __future__ import annotations

import time

import numpy as np

from gapstudy.studies.catalogue import torch_port
from gapstudy.studies.catalogue.cases import CASES

FAMILIES = ("mlp_regression", "mlp_classifier")

# Stacked against seed by seed (``torch_port.train``), after 3 epochs of every MLP arm: relative
# difference of the validation metric and of every epoch's mean training loss (tests/test_catalogue.py).
# Measured on an AMD EPYC (AVX-512), 3 seeds: at most 3.0e-7 (metric) and 1.1e-7 (loss) after 3 epochs,
# 5.2e-7 and 2.1e-7 after 5 epochs of 20 seeds; the tolerance leaves a factor of 30 for other CPUs' kernels.
TOLERANCE = {"rtol": 1e-5}


def supports(case: str, switches: dict) -> bool:
    """Whether this path trains ``case``'s port (any switches of an MLP case)."""
    torch_port.resolve(switches)
    return CASES[case].family in FAMILIES


def train_seeds(case: str, switches: dict, data: dict, seeds, epochs: int | None = None) -> list[dict]:
    """A torch arm's job: its seeds stacked where ``supports`` says so (``train``), else seed by seed
    (``torch_port.train``); one result per seed, each with ``stacked_seeds`` (1 when trained alone)."""
    seeds = [int(seed) for seed in seeds]
    if supports(case, switches) and len(seeds) > 1:
        return train(case, switches, data, seeds, epochs)
    return [torch_port.train(case, switches, data, seed, epochs) | {"stacked_seeds": 1} for seed in seeds]


def clip(grads: list, max_norm: float, how: str) -> None:
    """``clip_grad_norm_`` seed by seed, in place: ``grads`` are (S, ...) tensors; ``how`` is ``per_variable``
    (each tensor by its own norm, as Keras' clipnorm) or ``global`` (one norm over all of a seed's)."""
    import torch

    norms = [torch.linalg.vector_norm(g.flatten(1), 2, dim=1) for g in grads]  # each (S,)
    if how == "global":
        total = torch.linalg.vector_norm(torch.stack(norms, dim=1), 2, dim=1)
        norms = [total] * len(grads)
    for g, norm in zip(grads, norms):
        coefficient = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
        g.mul_(coefficient.view(-1, *[1] * (g.dim() - 1)))


def train(case: str, switches: dict, data: dict, seeds, epochs: int | None = None) -> list[dict]:
    """Train the port with ``switches`` from every seed of ``seeds`` at once; one result per seed, as
    ``torch_port.train`` returns it, with the job's times shared evenly and ``stacked_seeds``."""
    import torch
    from torch.func import functional_call, grad_and_value, vmap

    if not supports(case, switches):
        raise ValueError(f"case {case!r}: family {CASES[case].family!r} is not stacked; "
                         f"stacked families: {', '.join(FAMILIES)}")
    c, s = CASES[case], CASES[case].settings
    start, cpu = time.perf_counter(), time.process_time()
    ports = [torch_port.Port(case, switches, data, seed) for seed in seeds]
    base, sw = ports[0], ports[0].sw
    names = [name for name, p in base.model.named_parameters() if p.requires_grad]
    stacked = {name: torch.stack([dict(port.model.named_parameters())[name].detach() for port in ports])
               for name in names}
    optimizer = torch_port.optimizer(s, sw, list(stacked.values()))
    scheduler = torch_port.scheduler(s, optimizer)
    kernels = [name for name in torch_port.kernel_names(base.model) if name in stacked]
    penalised = bool(s.get("l2")) and sw["l2"] == "loss"

    def loss_of(params, x, y):
        loss = base.data_loss(functional_call(base.model, params, (x,)), y)
        if penalised:
            loss = loss + torch_port.l2_penalty(s["l2"], [params[name] for name in kernels])
        return loss

    step = vmap(grad_and_value(loss_of))
    X = torch.from_numpy(torch_port.to_torch_layout(c.family, data["X_train"]))
    y = torch.from_numpy(data["y_train"])
    batch, n = s["batch_size"], len(X)
    losses: list[list[float]] = [[] for _ in ports]
    for _ in range(epochs or s["epochs"]):
        orders = torch.stack([port.order(n) for port in ports])
        epoch_losses = []
        for first in range(0, n, batch):
            idx = orders[:, first:first + batch]
            grads, loss = step(stacked, X[idx], y[idx])
            if s.get("clipnorm"):
                clip([grads[name] for name in names], s["clipnorm"], sw["clipnorm"])
            for name in names:
                stacked[name].grad = grads[name]
            optimizer.step()
            if scheduler is not None and sw["lr_schedule"] == "per_batch":
                scheduler.step()
            epoch_losses.append(loss.detach())
        if scheduler is not None and sw["lr_schedule"] == "per_epoch":
            scheduler.step()
        by_seed = torch.stack(epoch_losses, dim=1).tolist()  # (S, steps) of the loop's float(loss)
        for seed_losses, epoch in zip(losses, by_seed):
            seed_losses.append(float(np.mean(epoch)))
    with torch.no_grad():
        for i, port in enumerate(ports):
            for name, p in port.model.named_parameters():
                if name in stacked:
                    p.copy_(stacked[name][i])
    results = [torch_port.validation(port, data) for port in ports]
    wall, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return [result | {"train_loss": seed_losses, "wall_seconds": wall / len(ports),
                      "cpu_seconds": cpu_seconds / len(ports), "stacked_seeds": len(ports)}
            for result, seed_losses in zip(results, losses)]
