"""The user's code run as a user runs it, against the workflow's training job for the same seed: the same bits.

PyTorch's prediction is held bit for bit on the job's one thread, and within
``plain_run.PREDICT_THREADS_TOLERANCE`` on the user's default threads: on
some CPUs the default pool splits ``predict``'s product otherwise.

Both sides in fresh processes on this machine (``gapstudy.studies.seed.plain_run`` says
how each is run): the posted code with nothing set but the seed, and the
``train`` rule's job (one thread, op determinism, three seeds stacked).
README, "What bit for bit means".
"""

import pytest

from gapstudy.studies.seed import plain_run


@pytest.mark.parametrize("case", sorted(plain_run.CASES))
def test_the_users_code_run_plainly_gives_the_workflows_bits(case):
    row = plain_run.compare(case, epochs=3)
    # Nothing was set in the user's process: TensorFlow's default pools, no determinism flag.
    assert row["plain_settings"] in ({"tf_intra_op_threads": 0, "tf_op_determinism": False},
                                     {"torch_deterministic_algorithms": False}), row["plain_settings"]
    settings = row["workflow_settings"]
    assert settings["stacked_seeds"] == 3 and row["workflow_repeat_identical"]
    if case.startswith("keras"):
        assert settings["tf_op_determinism"] and settings["tf_intra_op_threads"] == 1 and settings["onednn"] == "on"
    assert row["same_weights"] and row["same_train_loss"], row
    if case.startswith("keras"):
        assert row["same_predictions"], row
        assert row["workflow_val_mse"] == row["plain_val_mse"]  # sklearn's MSE on predict's output, bit for bit
    else:
        # The same weights predict the same bits on the job's one thread; the user's default pool may
        # split predict's product otherwise on some CPUs (plain_run.PREDICT_THREADS_TOLERANCE says where).
        assert row["same_predictions_one_thread"], row
        assert row["predictions_max_abs_diff"] <= plain_run.PREDICT_THREADS_TOLERANCE, row
