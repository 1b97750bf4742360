"""The user's code, transcribed plainly: the yardstick for exactness and speed.

Nothing here is used by the workflow's training jobs. Tests compare the
workflow's training paths against these functions, and the benchmark times
them side by side.
"""

from __future__ import annotations

import numpy as np


def torch_as_posted(dataset, seed: int = 0, epochs: int = 100, fixed: bool = False):
    """The posted PyTorch loop; returns (train losses, val losses, predictions, model).

    ``fixed`` makes the one change that fixes it (the registry's
    ``target_shape: matched``): both loss lines compare ``ypred.squeeze(-1)``,
    shape (32,), with ``y``, instead of broadcasting (32,) against (32, 1).
    """
    import torch
    from torch import optim
    from torch.utils.data import DataLoader, Dataset

    from gapstudy.frameworks.torch_model import TorchLinearModel

    class XYData(Dataset):
        def __init__(self, X, y):
            super().__init__()
            self.X = torch.tensor(X, dtype=torch.float32)
            self.y = torch.tensor(y, dtype=torch.float32)
            self.len = len(y)

        def __getitem__(self, index):
            return (self.X[index], self.y[index])

        def __len__(self):
            return self.len

    def mean_squared_error(ytrue, ypred):
        return torch.mean(((ytrue - ypred) ** 2))

    traindata = XYData(dataset.X_train, dataset.y_train)
    valdata = XYData(dataset.X_val, dataset.y_val)
    trainloader = DataLoader(dataset=traindata, shuffle=True, batch_size=32, drop_last=False)
    valloader = DataLoader(dataset=valdata, shuffle=True, batch_size=32, drop_last=False)

    torch_model = TorchLinearModel(random_seed=seed)
    optimizer = optim.Adam(
        torch_model.parameters(), betas=(0.9, 0.9999), eps=1e-7, lr=1e-3, weight_decay=0
    )
    torch_trainlosses, torch_vallosses = [], []
    for epoch in range(epochs):
        losses = []
        _ = torch_model.train()
        for i, (x, y) in enumerate(trainloader):
            optimizer.zero_grad()
            ypred = torch_model(x)
            loss = mean_squared_error(y, ypred.squeeze(-1) if fixed else ypred)
            _ = loss.backward()
            _ = optimizer.step()
            losses.append(loss.item())
        torch_trainlosses.append(np.mean(losses))
        losses = []
        _ = torch_model.eval()
        with torch.no_grad():
            for i, (x, y) in enumerate(valloader):
                ypred = torch_model(x)
                loss = mean_squared_error(y, ypred.squeeze(-1) if fixed else ypred)
                losses.append(loss.item())
        torch_vallosses.append(np.mean(losses))
    ypred_torch = torch_model(torch.tensor(dataset.X_val, dtype=torch.float32))
    ypred_torch = ypred_torch.detach().numpy().reshape(-1)
    return torch_trainlosses, torch_vallosses, ypred_torch, torch_model


def keras_as_posted(dataset, seed: int = 0, epochs: int = 100):
    """The posted Keras model and ``fit``; returns (history, predictions, model).

    ``keras.utils.set_random_seed`` stands in for the seed the user never set;
    ``verbose=0`` spares the progress bar, which only makes the posted run
    cheaper than the user's.
    """
    import keras
    from keras import layers
    from keras.models import Model
    from keras.optimizers import Adam

    keras.utils.set_random_seed(seed)
    x = layers.Input(shape=(10,))
    z = layers.Dense(units=100, activation=None, use_bias=True,
                     kernel_regularizer=None, bias_regularizer=None)(x)
    y = layers.Dense(units=1, activation=None, use_bias=True,
                     kernel_regularizer=None, bias_regularizer=None)(z)
    keras_model = Model(x, y, name="linear")
    optimizer = Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.9999, epsilon=1e-7, amsgrad=False)
    keras_model.compile(optimizer=optimizer, loss="mean_squared_error")
    history = keras_model.fit(dataset.X_train, dataset.y_train, sample_weight=None, batch_size=32,
                              epochs=epochs, validation_data=(dataset.X_val, dataset.y_val), verbose=0)
    ypred_keras = keras_model.predict(dataset.X_val, verbose=0).reshape(-1)
    return history, ypred_keras, keras_model


def keras2_as_posted(dataset, seed: int = 0, epochs: int = 100):
    """The posted Keras code verbatim on Keras 2 (``tf_keras``), the Keras the user ran in 2022.

    Only the imports are mapped (``tensorflow.keras`` to ``tf_keras``);
    ``Input(shape=10)``, which Keras 3 refuses, stays as posted.
    ``tf_keras.utils.set_random_seed`` stands in for the seed the user never
    set. Returns (history, predictions, model).
    """
    import tf_keras
    from tf_keras import layers
    from tf_keras.models import Model
    from tf_keras.optimizers import Adam

    tf_keras.utils.set_random_seed(seed)
    x = layers.Input(shape=10)
    z = layers.Dense(units=100, activation=None, use_bias=True,
                     kernel_regularizer=None, bias_regularizer=None)(x)
    y = layers.Dense(units=1, activation=None, use_bias=True,
                     kernel_regularizer=None, bias_regularizer=None)(z)
    keras_model = Model(x, y, name='linear')
    optimizer = Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.9999, epsilon=1e-7, amsgrad=False)
    keras_model.compile(optimizer=optimizer, loss='mean_squared_error')
    history = keras_model.fit(dataset.X_train, dataset.y_train, sample_weight=None, batch_size=32,
                              epochs=epochs, validation_data=(dataset.X_val, dataset.y_val), verbose=0)
    ypred_keras = keras_model.predict(dataset.X_val, verbose=0).reshape(-1)
    return history, ypred_keras, keras_model
