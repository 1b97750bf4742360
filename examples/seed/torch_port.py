"""The user's PyTorch port, as posted (https://discuss.pytorch.org/t/160720; ../../shared/seed/QUESTION.md).

The posted code, cut into the pieces the workflow calls: ``get_data`` (the arrays), ``make_loader`` (the
posted DataLoader), ``build_torch_model`` (the model and optimizer; one change: it takes ``seed``, which
the post fixed at 0) and ``train_epoch`` (the body of the posted ``for epoch`` loop, unchanged).
Nothing here knows of the workflow.
"""

import numpy as np
import torch
from sklearn.preprocessing import MinMaxScaler
from torch import nn, optim
from torch.utils.data import DataLoader, Dataset


def get_data():
    np.random.seed(0)
    Xtrain = np.random.normal(0, 1, size=(7000, 10))
    Xval = np.random.normal(0, 1, size=(700, 10))
    ytrain = np.sum(np.sin(Xtrain), axis=1)
    yval = np.sum(np.sin(Xval), axis=1)
    scaler = MinMaxScaler()
    ytrain = scaler.fit_transform(ytrain.reshape(-1, 1)).reshape(-1)
    yval = scaler.transform(yval.reshape(-1, 1)).reshape(-1)
    return Xtrain, Xval, ytrain, yval


class XYData(Dataset):
    def __init__(self, X, y):
        super(XYData, self).__init__()
        self.X = torch.tensor(X, dtype=torch.float32)
        self.y = torch.tensor(y, dtype=torch.float32)
        self.len = len(y)

    def __getitem__(self, index):
        return (self.X[index], self.y[index])

    def __len__(self):
        return self.len


def make_loader(X, y, batch_size):
    return DataLoader(dataset=XYData(X, y), shuffle=True, batch_size=batch_size, drop_last=False)


class TorchLinearModel(nn.Module):
    def __init__(self, input_dim=10, random_seed=0):
        super(TorchLinearModel, self).__init__()
        _ = torch.manual_seed(random_seed)
        self.hidden_layer = nn.Linear(input_dim, 100)
        self.initialize_layer(self.hidden_layer)
        self.output_layer = nn.Linear(100, 1)
        self.initialize_layer(self.output_layer)

    def initialize_layer(self, layer):
        _ = torch.nn.init.xavier_normal_(layer.weight)
        # _ = torch.nn.init.xavier_uniform_(layer.weight)
        _ = torch.nn.init.constant(layer.bias, 0)

    def forward(self, x):
        x = self.hidden_layer(x)
        x = self.output_layer(x)
        return x


def mean_squared_error(ytrue, ypred):
    return torch.mean(((ytrue - ypred) ** 2))


def build_torch_model(seed=0):
    torch_model = TorchLinearModel(random_seed=seed)
    optimizer = optim.Adam(torch_model.parameters(), betas=(0.9, 0.9999),
                           eps=1e-7, lr=1e-3, weight_decay=0)
    return torch_model, optimizer


def train_epoch(torch_model, optimizer, trainloader, valloader):
    losses = []
    _ = torch_model.train()
    for i, (x, y) in enumerate(trainloader):
        optimizer.zero_grad()
        ypred = torch_model(x)
        loss = mean_squared_error(y, ypred)
        _ = loss.backward()
        _ = optimizer.step()
        losses.append(loss.item())
    train_loss = np.mean(losses)
    losses = []
    _ = torch_model.eval()
    with torch.no_grad():
        for i, (x, y) in enumerate(valloader):
            ypred = torch_model(x)
            loss = mean_squared_error(y, ypred)
            losses.append(loss.item())
    return train_loss, np.mean(losses)
