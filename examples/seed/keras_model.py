"""The user's Keras model, as posted (https://discuss.pytorch.org/t/160720; ../../shared/seed/QUESTION.md).

One change from the post: ``layers.Input(shape=(10,))``, where the post's ``shape=10`` is refused by
Keras 3 (it ran on Keras 2).
"""

from keras import layers
from keras.models import Model
from keras.optimizers import Adam


def build_keras_model():
    x = layers.Input(shape=(10,))
    z = layers.Dense(units=100, activation=None, use_bias=True,
                     kernel_regularizer=None, bias_regularizer=None)(x)
    y = layers.Dense(units=1, activation=None, use_bias=True,
                     kernel_regularizer=None, bias_regularizer=None)(z)
    keras_model = Model(x, y, name='linear')
    optimizer = Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.9999,
                     epsilon=1e-7, amsgrad=False)
    keras_model.compile(optimizer=optimizer, loss='mean_squared_error')
    return keras_model
