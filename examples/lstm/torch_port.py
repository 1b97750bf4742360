"""A PyTorch port of ``keras_model.py`` as it usually comes out:

- ``nn.LSTM`` as it comes: PyTorch's uniform(±1/√h) initialisation of every weight, and two trained bias
  vectors, where Keras' LSTM has glorot/orthogonal kernels, one bias and a forget-gate bias of 1;
- Keras' per-step ``ExponentialDecay`` as an ``ExponentialLR`` stepped once per epoch.

Nothing here knows of the workflow.
"""

import numpy as np
import torch
from torch import nn


def get_data(n_train=2000, n_val=500, length=15, seed=0):
    rng = np.random.default_rng(seed)

    def draw(n):
        values = rng.uniform(0, 1, (n, length))
        markers = np.zeros((n, length))
        markers[np.arange(n), rng.integers(0, length // 2, n)] = 1
        markers[np.arange(n), rng.integers(length // 2, length, n)] = 1
        return np.stack([values, markers], axis=-1).astype(np.float32), (values * markers).sum(axis=1)

    (X_train, y_train), (X_val, y_val) = draw(n_train), draw(n_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 32, batch_first=True)
        self.fc = nn.Linear(32, 1)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def build(seed=0):
    torch.manual_seed(seed)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, eps=1e-7)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5 ** (1 / 200))
    return model, optimizer, nn.MSELoss(), scheduler


def train_epoch(model, optimizer, loss_fn, scheduler, loader):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x).squeeze(-1), y)
        loss.backward()
        optimizer.step()
    scheduler.step()
