import numpy as np
import pytest
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from gapstudy.studies.seed import posted
from gapstudy.frameworks import torch_model, train_torch
from gapstudy.variants import resolve

torch.set_num_threads(1)


def test_as_posted_job_matches_the_plain_transcription_bit_for_bit(dataset, hp):
    """Seed 0, CPU: same losses, weights and validation predictions as the user's loop."""
    hp["epochs"] = 3
    train_losses, val_losses, predictions, model = posted.torch_as_posted(dataset, seed=0, epochs=3)
    record = train_torch.train(dataset, 0, hp, resolve({}, "torch", hp), device="cpu")
    assert record["predictions"].tobytes() == predictions.tobytes()
    for ours, theirs in zip(record["weights"], model.keras_layout()):
        assert ours.tobytes() == theirs.tobytes()
    assert [row["train_loss"] for row in record["epochs"]] == [float(x) for x in train_losses]
    assert [row["val_loss_user"] for row in record["epochs"]] == [float(x) for x in val_losses]


def test_epoch_batches_are_the_dataloaders_batches_and_leave_the_same_rng_state():
    n, batch = 103, 32
    torch.manual_seed(7)
    loader = DataLoader(list(range(n)), batch_size=batch, shuffle=True)
    expected = [[b.tolist() for b in loader] for _ in range(3)]
    state_after_loader = torch.random.get_rng_state()
    torch.manual_seed(7)
    ours = [[b.tolist() for b in train_torch.epoch_batches(n, batch)] for _ in range(3)]
    assert ours == expected
    assert torch.equal(torch.random.get_rng_state(), state_after_loader)
    assert [len(b) for b in ours[0]] == [32, 32, 32, 7]


def test_posted_loss_is_the_mean_over_every_pair_and_matched_is_mse():
    y = torch.tensor([0.0, 1.0, 3.0])
    y_pred = torch.tensor([[0.5], [1.0], [2.0]])
    pairs = np.mean([(yi - pj) ** 2 for yi in y.tolist() for pj in y_pred.reshape(-1).tolist()])
    assert train_torch.loss_fn("posted")(y, y_pred).item() == pytest.approx(pairs)
    assert train_torch.loss_fn("matched")(y, y_pred).item() == pytest.approx(
        F.mse_loss(y_pred.reshape(-1), y).item()
    )
    assert train_torch.loss_fn("posted")(y, y_pred).item() > train_torch.loss_fn("matched")(y, y_pred).item()


def test_model_starts_from_xavier_normal_weights_and_zero_biases():
    model = torch_model.TorchLinearModel(10, 100, random_seed=0)
    assert torch.count_nonzero(model.hidden_layer.bias) == 0
    assert torch.count_nonzero(model.output_layer.bias) == 0
    # xavier_normal_: std = sqrt(2 / (fan_in + fan_out)) = sqrt(2 / 110)
    assert model.hidden_layer.weight.std().item() == pytest.approx((2 / 110) ** 0.5, rel=0.1)
    again = torch_model.TorchLinearModel(10, 100, random_seed=0)
    assert torch.equal(model.hidden_layer.weight, again.hidden_layer.weight)


def test_fixed_variant_learns_what_the_posted_one_cannot(dataset, hp):
    """After 2 epochs the matched-shape loss already fits far better: the gap's cause."""
    from gapstudy.frameworks import metrics

    as_posted = train_torch.train(dataset, 0, hp, resolve({}, "torch", hp))
    fixed = train_torch.train(dataset, 0, hp, resolve({"target_shape": "matched"}, "torch", hp))
    mse_posted = metrics.mse(dataset.y_val, as_posted["predictions"])
    mse_fixed = metrics.mse(dataset.y_val, fixed["predictions"])
    assert mse_fixed < mse_posted / 2


def test_flat_adam_takes_torch_adams_steps_bit_for_bit():
    from gapstudy.frameworks.torch_adam import FlatAdam

    generator = torch.Generator().manual_seed(0)
    shapes = [(100, 10), (100,), (1, 100), (1,)]
    params = [torch.randn(s, generator=generator, requires_grad=True) for s in shapes]
    reference = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.9999), eps=1e-7)
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    ours = FlatAdam(flat, lr=1e-3, betas=(0.9, 0.9999), eps=1e-7)
    for _ in range(300):
        grads = [torch.randn(s, generator=generator) * 1e-2 for s in shapes]
        for p, g in zip(params, grads):
            p.grad = g
        reference.step()
        ours.step(torch.cat([g.reshape(-1) for g in grads]))
    expected = torch.cat([p.detach().reshape(-1) for p in params])
    assert torch.equal(flat, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("activation", ["none", "relu", "tanh"])
@pytest.mark.parametrize("loss", ["handwritten", "framework"])
@pytest.mark.parametrize("target_shape", ["posted", "matched"])
def test_manual_gradients_are_autograds_bit_for_bit(target_shape, loss, activation, dtype):
    """The engine-free backward (torch_backward) against loss.backward(), full and partial batches."""
    import warnings

    from gapstudy.frameworks.torch_backward import ManualStep

    generator = torch.Generator().manual_seed(1)
    net = train_torch.FlatNet(torch_model.TorchLinearModel(10, 100, 0).to(dtype=dtype), activation)
    grad = torch.zeros_like(net.flat)
    step = ManualStep([p.detach() for p in net.parameters()], net.views(grad), target_shape, loss, activation)
    reference = train_torch.loss_fn(target_shape, loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # F.mse_loss's broadcasting warning
        for batch in (32, 24, 1):
            x = torch.randn(batch, 10, generator=generator, dtype=dtype)
            y = torch.randn(batch, generator=generator, dtype=dtype)
            net.flat.grad = None
            expected = reference(y, net(x))
            expected.backward()
            assert torch.equal(step(x, y), expected.detach())
            assert torch.equal(grad, net.flat.grad)


def test_autograd_switches_keep_autograd_and_give_the_same_run(dataset, hp):
    """retain_graph / create_graph need the engine; they change no number (the user's finding)."""
    from gapstudy.frameworks import torch_backward

    hp["epochs"] = 1
    plain = resolve({}, "torch", hp)
    retained = resolve({"graph": "retain_graph"}, "torch", hp)
    assert torch_backward.supports(plain) and not torch_backward.supports(retained)
    a = train_torch.train(dataset, 0, hp, plain)
    b = train_torch.train(dataset, 0, hp, retained)
    assert a["predictions"].tobytes() == b["predictions"].tobytes()
