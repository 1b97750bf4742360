import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from gapstudy.frameworks import metrics


def test_scores_agree_with_sklearn_and_scipy():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    p = y + rng.normal(scale=0.3, size=200)
    scores = metrics.all_scores(y, p.astype(np.float32))
    p64 = p.astype(np.float32).astype(np.float64)
    assert scores["val_mse"] == pytest.approx(skm.mean_squared_error(y, p64), rel=1e-12)
    assert scores["val_mae"] == pytest.approx(skm.mean_absolute_error(y, p64), rel=1e-12)
    assert scores["val_r2"] == pytest.approx(skm.r2_score(y, p64), rel=1e-12)
    assert scores["val_pearson_r"] == pytest.approx(stats.pearsonr(y, p64)[0], rel=1e-12)


def test_known_values():
    y, p = [1.0, 2.0, 3.0], [1.0, 2.0, 5.0]
    assert metrics.mse(y, p) == pytest.approx(4 / 3)
    assert metrics.mae(y, p) == pytest.approx(2 / 3)
    assert metrics.r2(y, p) == pytest.approx(1 - 4 / 2)


def test_constant_or_nonfinite_predictions_have_no_correlation():
    assert np.isnan(metrics.pearson_r([1, 2, 3], [5, 5, 5]))
    assert np.isnan(metrics.pearson_r([1, 2, 3], [1, np.nan, 3]))


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="3 targets but 2 predictions"):
        metrics.mse([1, 2, 3], [1, 2])


def test_weights_hash_sees_one_ulp_and_is_layout_aware():
    w = [np.ones((2, 3), np.float32), np.zeros(3, np.float32)]
    h = metrics.weights_sha256(w)
    assert h == metrics.weights_sha256([a.copy() for a in w])
    bumped = [np.nextafter(w[0], 2, dtype=np.float32), w[1]]
    assert metrics.weights_sha256(bumped) != h
    assert metrics.weights_sha256([w[0].T, w[1]]) != h
