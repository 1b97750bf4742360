"""A Keras CNN on scikit-learn's 8×8 digits: the model a user ports to PyTorch (``torch_port.py``)."""

import keras
from keras import layers


def build_keras_model():
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", name="conv1"),
        layers.BatchNormalization(name="bn1"),
        layers.Activation("relu", name="relu1"),
        layers.Conv2D(32, 3, padding="same", name="conv2"),
        layers.BatchNormalization(name="bn2"),
        layers.Activation("relu", name="relu2"),
        layers.MaxPooling2D(2, name="pool"),
        layers.Flatten(name="flatten"),
        layers.Dropout(0.3, name="dropout"),
        layers.Dense(10, activation="softmax", name="output"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model
