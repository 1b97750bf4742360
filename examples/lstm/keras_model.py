"""A Keras LSTM on the adding problem (Hochreiter and Schmidhuber 1997): the model a user ports."""

import keras
from keras import layers


def build_keras_model():
    model = keras.Sequential([keras.Input((15, 2)), layers.LSTM(32, name="lstm"), layers.Dense(1, name="output")])
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=200, decay_rate=0.5)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    return model
