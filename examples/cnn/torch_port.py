"""A PyTorch port of ``keras_model.py`` with two pitfalls planted, as users write them:

- ``BatchNorm2d(momentum=0.99)``: Keras' momentum copied literally (PyTorch's momentum is the weight of
  the new batch: Keras' 0.99 is PyTorch's 0.01);
- a ``Softmax`` module before ``CrossEntropyLoss``, which applies its own softmax.

Otherwise it is a careful port: Keras' initialisers, Keras' epsilon, the same batch size, shuffled
batches, ``model.eval()`` before validation. Nothing here knows of the workflow.
"""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn


def get_data():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).reshape(-1, 8, 8, 1).astype(np.float32), y


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16, eps=1e-3, momentum=0.99)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32, eps=1e-3, momentum=0.99)
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
