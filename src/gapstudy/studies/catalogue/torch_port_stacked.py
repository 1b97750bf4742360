"""A catalogue job's seeds of an MLP or LSTM port trained at once: each seed's own step, batched over seeds.

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
other sizes to each other. The CNN trains seed by seed: under ``vmap`` its
step was about 1.4 times faster per seed and its convolutions then dominate.

The LSTM port: ``nn.LSTM``'s fused op has no batching rule, and ``vmap``
over its equations written out (``torch.func``'s per-op cost, 15 time
steps) was slower than the seeds one by one. So its step is written for
the stack directly (``lstm_forward``: batched products per time step) and
differentiated by autograd (``rnn_step``); the loss is still the port's.
Its step is elementwise-bound (gates of 20 seeds × 32 rows × 128), so
stacking gains less than for the MLPs: 20 seeds of 20 epochs in 19.4 s
against about 28 s one by one (the port's arm, one thread, AMD EPYC).
"""

from __future__ import annotations

import time

import numpy as np

from gapstudy.studies.catalogue import torch_port
from gapstudy.studies.catalogue.cases import CASES

FAMILIES = ("mlp_regression", "mlp_classifier", "rnn")

# Stacked against seed by seed (``torch_port.train``), after 3 epochs of every MLP arm: relative
# difference of the validation metric and of every epoch's mean training loss (tests/test_catalogue.py).
# Measured on an AMD EPYC (AVX-512), 3 seeds: at most 3.0e-7 (metric) and 1.1e-7 (loss) after 3 epochs,
# 5.2e-7 and 2.1e-7 after 5 epochs of 20 seeds; the tolerance leaves a factor of 30 for other CPUs' kernels.
# The LSTM: at most 3.0e-7 and 4.1e-8 after 3 epochs (20 seeds); after its whole 20 epochs the round-off
# has grown to 1.9e-5 (metric) and 3.1e-5 (loss) relative (3 seeds), far below any effect the catalogue reports.
TOLERANCE = {"rtol": 1e-5}


def supports(case: str, switches: dict) -> bool:
    """Whether this path trains ``case``'s port (any switches of an MLP or LSTM case)."""
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
    if c.family == "rnn":
        frozen = {name: torch.stack([dict(port.model.named_parameters())[name].detach() for port in ports])
                  for name, p in base.model.named_parameters() if not p.requires_grad}
    optimizer = torch_port.optimizer(s, sw, list(stacked.values()))
    scheduler = torch_port.scheduler(s, sw, optimizer)
    kernels = [name for name in torch_port.kernel_names(base.model) if name in stacked]
    penalised = bool(s.get("l2")) and sw["l2"] == "loss"

    def loss_of(params, x, y):
        loss = base.data_loss(functional_call(base.model, params, (x,)), y)
        if penalised:
            loss = loss + torch_port.l2_penalty(s["l2"], [params[name] for name in kernels])
        return loss

    step = (vmap(grad_and_value(loss_of)) if c.family != "rnn"
            else rnn_step(base, stacked | frozen, names, kernels, penalised))
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
            if scheduler is not None and not torch_port.steps_per_epoch(sw):
                scheduler.step()
            epoch_losses.append(loss.detach())
        if scheduler is not None and torch_port.steps_per_epoch(sw):
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


def lstm_forward(params: dict, x):
    """The LSTM port's model (``torch_port._last_step_lstm`` → ``output``) for S seeds at once.

    ``params``: the port's parameters by name, each stacked on a leading seed axis, (S, ...); ``x``: (S, B,
    T, inputs), each seed's own batch. Each step is ``nn.LSTM``'s equations, gates in PyTorch's order (input,
    forget, cell, output): gates = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh; c = f·c + i·g; h = o·tanh(c); the last
    step's h goes through the output Linear. Returns (S, B, outputs). Batched matrix products, not
    ``vmap``: its per-op cost made ``vmap`` over this loop slower than the seeds one by one.
    """
    import torch

    w_ih, w_hh = params["lstm.lstm.weight_ih_l0"], params["lstm.lstm.weight_hh_l0"]
    b_ih, b_hh = params["lstm.lstm.bias_ih_l0"], params["lstm.lstm.bias_hh_l0"]
    seeds, batch, steps, _ = x.shape
    units = w_hh.shape[-1]
    # x·W_ihᵀ + b_ih for every step at once: (S, B·T, inputs) @ (S, inputs, 4h).
    projected = torch.baddbmm(b_ih.unsqueeze(1), x.reshape(seeds, batch * steps, -1),
                              w_ih.transpose(1, 2)).view(seeds, batch, steps, 4 * units)
    h = x.new_zeros(seeds, batch, units)
    c = h
    w_hh_t, b_hh = w_hh.transpose(1, 2), b_hh.unsqueeze(1)
    # unbind and chunk, not indexing: their backward is one stack or cat, where each index's backward
    # would fill a tensor of the whole input's size (most of a step's time, measured).
    for x_t in projected.unbind(2):
        i, f, g, o = (x_t + torch.baddbmm(b_hh, h, w_hh_t)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
    return torch.baddbmm(params["output.bias"].unsqueeze(1), h, params["output.weight"].transpose(1, 2))


def rnn_step(base, params: dict, names: list, kernels: list, penalised: bool):
    """The LSTM port's step for every seed at once, as ``vmap(grad_and_value(loss))`` is for the MLPs:
    ``step(params, x, y)`` gives each trainable parameter's (S, ...) gradient and the (S,) losses.

    ``params``: every parameter stacked (the trainable ones are updated in place by the optimizer between
    steps); the loss is the port's own (``base.data_loss``, ``vmap``-ed over the seeds: a few ops), with
    its L2 penalty where the port adds one; autograd through ``lstm_forward`` gives every seed the
    gradient of its own loss (seeds share no parameter).
    """
    import torch

    data_loss = torch.vmap(base.data_loss)

    def step(trainable, x, y):
        leaves = {name: trainable[name].detach().requires_grad_() for name in names}
        losses = data_loss(lstm_forward(params | leaves, x), y)
        if penalised:
            losses = losses + base.s["l2"] * sum(torch.sum(leaves[k] ** 2, dim=tuple(range(1, leaves[k].dim())))
                                                 for k in kernels)
        grads = torch.autograd.grad(losses.sum(), [leaves[name] for name in names])
        return dict(zip(names, grads)), losses.detach()

    return step
