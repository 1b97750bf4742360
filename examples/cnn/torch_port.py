"""A PyTorch port of ``keras_model.py`` with two pitfalls planted, as users write them:

- a ``DataLoader`` without ``shuffle=True`` (its default) over training rows stored sorted by class, as
  datasets often come, where Keras' ``fit`` shuffles every epoch;
- a ``Softmax`` module before ``CrossEntropyLoss``, which applies its own softmax.

Otherwise it is a careful port: Keras' initialisers, BatchNorm's momentum converted (Keras' 0.99 is
PyTorch's 0.01) and Keras' epsilon, the same batch size, ``model.eval()`` before validation. Nothing here
knows of the workflow.
"""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def get_data():
    """8×8 digits as (N, 8, 8, 1) images, 80/20 stratified; the training rows sorted by class."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 8, 8, 1).astype(np.float32)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    order = np.argsort(y_train, kind="stable")
    return {"X_train": X_train[order], "y_train": y_train[order], "X_val": X_val, "y_val": y_val}


def make_loader(X, y, batch_size):
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    return DataLoader(dataset, batch_size=batch_size)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16, eps=1e-3, momentum=0.01)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(32 * 4 * 4, 10)
        self.softmax = nn.Softmax(dim=1)
        for layer in (self.conv1, self.conv2, self.fc):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.softmax(self.fc(self.dropout(x)))


def build(seed=0):
    torch.manual_seed(seed)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return model, optimizer, nn.CrossEntropyLoss()


def train_epoch(model, optimizer, criterion, train_loader):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()


def predict(model, X):
    model.eval()
    with torch.no_grad():
        return model(X)
