import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]

TINY_HP = dict(
    epochs=2, batch_size=32, hidden_units=100, learning_rate=1e-3,
    beta_1=0.9, beta_2=0.9999, epsilon=1e-7,
)


@pytest.fixture(scope="session")
def dataset():
    from gapstudy.data import make_dataset

    return make_dataset()


@pytest.fixture
def hp():
    return dict(TINY_HP)
