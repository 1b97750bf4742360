"""What a reader reads about each pitfall: title, description, one-line fix, symptom, public source.

Kept apart from ``cases`` (what runs), so that a corrected sentence or
source reruns the statistics and the report but retrains nothing: the
trainers import ``cases`` and never this module. ``tests/test_catalogue.py``
holds the two to the same pitfall names. Every source was found with the
project's search tool and is cited by URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Story:
    title: str
    description: str
    fix: str
    symptom: str
    source: str


STORIES = MappingProxyType({
    "target_broadcast": Story(
        title='(N,) target against (N, 1) prediction in a hand-written loss',
        description=('The posted loss torch.mean((ytrue - ypred)**2) with ytrue of shape (N,) and ypred of shape (N, 1) '
            "broadcasts to an (N, N) matrix: every prediction is pulled towards every target of the batch. Keras'"
            ' losses align the ranks first.'),
        fix='ypred.view(-1) (or y.view(-1, 1)) before the loss',
        symptom="the loss plateaus near the target's variance; predictions collapse towards the mean",
        source='https://discuss.pytorch.org/t/400-higher-error-with-pytorch-compared-with-identical-keras-model-with-adam-optimizer/160720',
    ),
    "xavier_normal_init": Story(
        title="xavier_normal_ where Keras' Dense draws glorot_uniform",
        description=("The posted port initialises each Linear with nn.init.xavier_normal_ and a zero bias, to match "
            "Keras; Keras' Dense draws its kernel from glorot_uniform: the same variance, 2/(fan_in + fan_out), "
            'from another distribution (a normal where Keras draws a uniform on ±√(6/(fan_in + fan_out))).'),
        fix='nn.init.xavier_uniform_(layer.weight); nn.init.zeros_(layer.bias)',
        symptom="xavier_uniform_ in place of xavier_normal_ did not close the gap (the user's report)",
        source='https://discuss.pytorch.org/t/400-higher-error-with-pytorch-compared-with-identical-keras-model-with-adam-optimizer/160720',
    ),
    "dense_init": Story(
        title='Default initialisation of Linear layers',
        description=("nn.Linear draws its kernel from kaiming_uniform(a=√5) and its bias from uniform(±1/√fan_in); Keras' "
            'Dense uses glorot_uniform and a zero bias.'),
        fix='nn.init.xavier_uniform_(layer.weight); nn.init.zeros_(layer.bias)',
        symptom='slower or different convergence from the same architecture',
        source='https://github.com/pytorch/pytorch/issues/15314',
    ),
    "adam_epsilon": Story(
        title="Adam's epsilon: same number, different place",
        description=('torch.optim.Adam adds epsilon to the bias-corrected sqrt(v̂); Keras adds it to sqrt(v) and folds the'
            " bias corrections into the step size ('epsilon hat'), so eps=1e-7 means a different thing in each."),
        fix=("Keras' update rule in a small optimizer (as the fixed port does); torch's eps would have to be ε/√(1"
            ' − β₂ᵗ), a new value every step'),
        symptom='small differences, larger where gradients are small',
        source='https://github.com/tensorflow/tensorflow/issues/9047',
    ),
    "double_softmax": Story(
        title='Softmax output into CrossEntropyLoss',
        description=("Keras' Dense(10, activation='softmax') with sparse_categorical_crossentropy, ported as a Softmax "
            'layer before nn.CrossEntropyLoss, which applies log_softmax itself: a double softmax.'),
        fix='drop the Softmax layer; apply softmax only for predictions',
        symptom='slow training; the loss cannot reach zero; probabilities too flat',
        source='https://github.com/Graylab/DL4Proteins-notebooks/issues/13',
    ),
    "sum_reduction": Story(
        title='Loss summed over the batch',
        description=("A port with reduction='sum' (or a hand-written sum) scales the data loss by the batch size; Keras' "
            'losses average over the batch. Under Adam a constant scale mostly cancels in m/√v, so what changes '
            'is everything added to or applied on the scaled loss: the L2 penalty becomes batch-size times weaker'
            ' beside it, clipnorm clips almost every step, epsilon matters less, and the short last batch weighs '
            'less. (Under SGD it is a batch-size times larger learning rate.)'),
        fix="reduction='mean'",
        symptom='weaker regularisation and different clipping under Adam; divergence under SGD',
        source='https://pytorch.org/docs/stable/generated/torch.nn.MSELoss.html',
    ),
    "l2_weight_decay": Story(
        title='kernel_regularizer=L2(λ) as Adam(weight_decay=λ)',
        description=("Keras adds λ·Σw² of the kernels to the loss (a gradient of 2λw, through Adam's scaling); "
            'Adam(weight_decay=λ) adds λ·w to every gradient, biases included: half the penalty, on other '
            'parameters. AdamW decouples it again.'),
        fix='loss = loss + λ * sum((layer.weight**2).sum() for each kernel)',
        symptom='different regularisation strength; weights and biases shrink differently',
        source='https://bbabenko.github.io/weight-decay/',
    ),
    "clipnorm_global": Story(
        title='clipnorm as a global clip_grad_norm_',
        description=("Keras' Adam(clipnorm=c) clips each variable's gradient to norm c on its own; "
            'clip_grad_norm_(model.parameters(), c) clips the norm of all gradients together, so it clips more '
            "often and scales every variable's gradient by the same factor. Under Adam the first steps hardly "
            'change (m/√v cancels a scale); the moments, and so the weighting of later steps, do.'),
        fix='for p in model.parameters(): clip_grad_norm_(p, c)',
        symptom='different Adam moments, so a different path through training, whenever gradients are large',
        source='https://github.com/tensorflow/tensorflow/issues/36001',
    ),
    "unshuffled": Story(
        title="No shuffle: DataLoader's default",
        description=("fit shuffles the training rows every epoch by default; DataLoader(shuffle=False) is DataLoader's "
            'default, so a dataset stored sorted by class trains on one class at a time.'),
        fix='DataLoader(..., shuffle=True)',
        symptom='training loss oscillates; the model predicts the last classes it saw',
        source='https://github.com/Deci-AI/super-gradients/issues/416',
    ),
    "sigmoid_bce_logits": Story(
        title='Sigmoid output into BCEWithLogitsLoss',
        description=("Keras' Dense(1, activation='sigmoid') with binary_crossentropy, ported as a Sigmoid layer before "
            'nn.BCEWithLogitsLoss, which applies its own sigmoid: the loss sees sigmoid(sigmoid(z)), which never '
            'goes below 0.5 or above 0.73.'),
        fix='drop the Sigmoid layer; apply sigmoid only for predictions',
        symptom='the loss stalls near 0.5; overconfident, poorly calibrated probabilities',
        source='https://github.com/yudi-mars/daisyRec/pull/15',
    ),
    "bn_momentum": Story(
        title='BatchNorm momentum copied literally',
        description=("Keras' momentum=0.99 is the weight of the old running value; PyTorch's momentum is the weight of the"
            ' new batch (default 0.1). Copied as 0.99, the running statistics are little more than the last '
            "batch's."),
        fix='nn.BatchNorm2d(c, momentum=1 - 0.99)',
        symptom='validation noisier and worse than training',
        source='https://github.com/pytorch/examples/issues/289',
    ),
    "bn_epsilon": Story(
        title="BatchNorm epsilon left at PyTorch's default",
        description=("Keras' BatchNormalization uses epsilon=1e-3, PyTorch's BatchNorm 1e-5: every normalised activation "
            "differs where a channel's variance is small."),
        fix='nn.BatchNorm2d(c, eps=1e-3)',
        symptom='tiny differences in every activation after a BatchNorm',
        source='https://github.com/gzuidhof/nn-transfer/pull/3',
    ),
    "forgotten_eval": Story(
        title='A forgotten model.eval()',
        description=('fit and predict switch Dropout and BatchNorm between training and inference themselves; in PyTorch '
            "that is the user's job. Without model.eval(), validation runs with dropout on and BatchNorm on batch"
            ' statistics, and updates the running statistics with validation data.'),
        fix='model.eval() before validation or prediction (model.train() after)',
        symptom="noisy, worse validation metrics than Keras' for the same training",
        source='https://github.com/udacity/deep-learning-v2-pytorch/issues/3',
    ),
    "lstm_init": Story(
        title='LSTM initialisation',
        description=("nn.LSTM draws every weight and bias from uniform(±1/√h); Keras' LSTM uses glorot_uniform for the "
            "input kernel, an orthogonal recurrent kernel and a zero bias with the forget gate's at 1 "
            '(unit_forget_bias=True).'),
        fix="xavier_uniform_ on weight_ih, orthogonal_ on weight_hh, zero biases, forget gate's bias 1",
        symptom='slower learning of long dependencies',
        source='https://discuss.pytorch.org/t/initializing-rnn-gru-and-lstm-correctly/23605',
    ),
    "lstm_two_biases": Story(
        title="nn.LSTM's two biases",
        description=('nn.LSTM has two bias vectors, bias_ih and bias_hh, that add up; both are trained, so the effective '
            "bias moves twice as fast under Adam. Keras' LSTM has one."),
        fix='nn.init.zeros_(lstm.bias_hh_l0); lstm.bias_hh_l0.requires_grad_(False)',
        symptom='different gate dynamics from identical weights',
        source='https://discuss.pytorch.org/t/pretrained-keras-lstm-weights-to-pytorch-lstm/110741',
    ),
    "lr_schedule_per_epoch": Story(
        title='Learning-rate schedule stepped per epoch',
        description=("A Keras LearningRateSchedule is evaluated at the optimizer's iteration count, every batch; the usual"
            ' PyTorch loop calls scheduler.step() once per epoch, so the same decay runs steps-per-epoch times '
            'slower.'),
        fix='call scheduler.step() after every optimizer.step()',
        symptom='the learning rate stays high; a noisier, worse end of training',
        source='https://github.com/tensorflow/tensorflow/issues/52529',
    ),
    "lr_decay_rate_per_epoch": Story(
        title="ExponentialDecay's decay rate as ExponentialLR's γ, stepped per epoch",
        description=("Keras' ExponentialDecay(lr, decay_steps, decay_rate) multiplies the rate by decay_rate every "
            'decay_steps batches; ported as ExponentialLR(gamma=decay_rate) stepped once per epoch, it multiplies '
            'by decay_rate every epoch instead: faster where an epoch has fewer batches than decay_steps.'),
        fix='ExponentialLR(gamma=decay_rate ** (1 / decay_steps)), scheduler.step() after every optimizer.step()',
        symptom='the learning rate decays on another clock than in Keras',
        source='https://github.com/tensorflow/tensorflow/issues/52529',
    ),
})
