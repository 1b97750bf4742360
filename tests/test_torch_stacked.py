"""The stacked PyTorch path: every seed bit for bit its own run of the user's loop."""

import numpy as np
import pytest
import torch

from conftest import same_run
from gapstudy.studies.seed import posted
from gapstudy.frameworks import torch_model, torch_stacked, train_torch
from gapstudy.variants import resolve

torch.set_num_threads(1)

SWITCHES = [
    {},  # as posted
    {"target_shape": "matched"},
    {"target_shape": "matched", "activation": "relu", "weight_init": "xavier_uniform", "adam_rule": "keras"},
    {"activation": "tanh", "dtype": "float64", "val_loss": "full_set"},
    {"shuffle": "off", "weight_init": "torch_default", "bias_init": "torch_default", "beta_2": 0.999},
]


@pytest.mark.parametrize("switches", SWITCHES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "posted")
def test_each_stacked_seed_is_its_own_run_bit_for_bit(dataset, hp, switches):
    """Seeds 0, 3, 4 together against each alone (train_torch.train, itself the posted loop's bits)."""
    hp["epochs"] = 3
    resolved = resolve(switches, "torch", hp)
    assert torch_stacked.supports(resolved)
    stacked = torch_stacked.train(dataset, [0, 3, 4], hp, resolved)
    for seed, result in zip([0, 3, 4], stacked):
        assert same_run(result, train_torch.train(dataset, seed, hp, resolved)), f"seed {seed}"
        assert result["settings"]["stacked_seeds"] == 3


def test_a_stacked_seed_is_the_posted_loop_bit_for_bit(dataset, hp):
    """Not the first row of the stack: seed 2 after seeds 5 and 6."""
    hp["epochs"] = 2
    train_losses, val_losses, predictions, model = posted.torch_as_posted(dataset, seed=2, epochs=2)
    result = torch_stacked.train(dataset, [5, 6, 2], hp, resolve({}, "torch", hp))[2]
    assert result["predictions"].tobytes() == predictions.tobytes()
    for ours, theirs in zip(result["weights"], model.keras_layout()):
        assert ours.tobytes() == theirs.tobytes()
    assert [row["train_loss"] for row in result["epochs"]] == [float(x) for x in train_losses]
    assert [row["val_loss_user"] for row in result["epochs"]] == [float(x) for x in val_losses]


def test_unaligned_rows_would_change_bits_so_rows_are_padded(dataset, hp):
    """Why ``StackedNet`` pads rows to 64 bytes: without it some kernels round a seed's sums differently."""
    net = torch_stacked.StackedNet([torch_model.TorchLinearModel(random_seed=s).keras_layout() for s in range(3)], "none")
    row_bytes = net.flat.shape[1] * net.flat.element_size()
    assert row_bytes % 64 == 0
    assert torch.count_nonzero(net.flat[:, sum(net.sizes[:4]):]) == 0  # the padding is zero


@pytest.mark.parametrize("switches", [{"graph": "retain_graph"}, {"eval_mode": "off"}, {"loss": "framework"}])
def test_switches_about_autograd_or_the_framework_loss_train_seed_by_seed(dataset, hp, switches):
    hp["epochs"] = 1
    resolved = resolve(switches, "torch", hp)
    assert not torch_stacked.supports(resolved)
    results = train_torch.train_seeds(dataset, [0, 1], hp, resolved)
    assert "stacked_seeds" not in results[0]["settings"]
    assert same_run(results[1], train_torch.train(dataset, 1, hp, resolved))
