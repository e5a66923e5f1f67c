"""A Keras model that owns its objective: the part every keras_vae model shares, the prior of a VQ-VAE included.

The model says how its loss terms are computed per example (`compute_loss_terms`, in `keras.ops`); this class
weighs them by `sample_weight`, adds the losses that layers add (regularizers, `add_loss`) as a plain
`keras.Model` would, tracks them as Keras metrics, hands `train_step`/`test_step` to the active backend's trainer
(`keras_vae.trainers`), and makes `compile` refuse the `loss` and `metrics` that such a model cannot use.
"""

import keras
from keras import ops

from keras_vae import trainers


class ObjectiveModel(trainers.ModelMixin, keras.Model):
    """Base class of the models that train on their own loss terms; not used directly.

    Args:
        **kwargs: passed to `keras.Model` (`name`, `dtype`, ...).

    Example:
        >>> class Prior(ObjectiveModel):
        ...     loss_terms = ("loss",)
        ...     def compute_loss_terms(self, inputs, labels, training=False):
        ...         return {"loss": ...}          # one value per example
    """

    #: names of the metrics `train_step` and `test_step` report
    loss_terms = ("loss",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.loss_trackers = [keras.metrics.Mean(name=name) for name in self.loss_terms]
        #: the sum of the losses that layers add; reported as `layer_loss` only by a model that has some
        self.layer_loss_tracker = keras.metrics.Mean(name="layer_loss")

    @property
    def metrics(self):
        return [*self.loss_trackers, self.layer_loss_tracker]

    def compute_loss_terms(self, inputs, labels, training=False):
        """Returns a dict with a value for each name in `loss_terms`: a tensor of shape (batch,), each example's
        term, or a scalar, a statistic of the whole batch (reported as it is, not weighed).

        Args:
            inputs: a batch of the model's inputs.
            labels: their integer labels for a conditional model, else None.
            training: whether layers run in training mode (batch norm statistics, sampling).
        """
        raise NotImplementedError

    def _unpack(self, data):
        """Unpacks `data` into (inputs, labels or None, sample weights or None)."""
        inputs, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        return inputs, None, sample_weight

    def batch_loss_terms(self, data, training=False):
        """The batch's loss terms, the scalars that `train_step` minimises and reports.

        Each per-example term is its batch mean, weighted by the sample weights when `data` has them (Keras's
        "sum over batch size": the mean of weight times loss). The losses that layers added in this forward pass
        (activity and weight regularizers, `add_loss`) are summed into `layer_loss` and added to `loss`, as
        Keras's own `train_step` does.

        Args:
            data: what `fit`/`evaluate` feed: inputs, `(inputs,)`, `(inputs, labels)` or
                `(inputs, labels, sample_weight)`.
            training: whether layers run in training mode.
        """
        inputs, labels, weights = self._unpack(data)
        per_example = self.compute_loss_terms(inputs, labels, training=training)
        weights = None if weights is None else ops.cast(weights, "float32")
        terms = {name: value if len(value.shape) == 0 else ops.mean(value if weights is None else value * weights)
                 for name, value in per_example.items()}
        if self.losses:
            terms["layer_loss"] = ops.sum(ops.stack([ops.sum(ops.cast(loss, "float32")) for loss in self.losses]))
            terms["loss"] = terms["loss"] + terms["layer_loss"]
        return terms

    def update_metrics(self, terms):
        """Updates the loss trackers with a batch's terms and returns the logs."""
        trackers = [*self.loss_trackers, *([self.layer_loss_tracker] if "layer_loss" in terms else [])]
        for tracker in trackers:
            tracker.update_state(terms[tracker.name])
        return {tracker.name: tracker.result() for tracker in trackers}

    def train_step(self, *args):
        return trainers.train_step(self, *args)

    def test_step(self, *args):
        return trainers.test_step(self, *args)

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                **kwargs):
        """`keras.Model.compile` for a model that owns its objective: it takes the optimizer and the
        execution settings (`jit_compile`, `steps_per_execution`, ...), and refuses `loss`, `loss_weights`,
        `metrics` and `weighted_metrics`, which it would otherwise have to ignore.

        Args:
            optimizer: a `keras.optimizers.Optimizer` or its name.
            **kwargs: the other arguments of `keras.Model.compile`.

        Example:
            >>> model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
        """
        given = [name for name, value in (("loss", loss), ("loss_weights", loss_weights), ("metrics", metrics),
                                          ("weighted_metrics", weighted_metrics)) if value]
        if given:
            raise ValueError(
                f"{type(self).__name__} trains on its own objective ({', '.join(self.loss_terms)}) and cannot use "
                f"compile's {', '.join(given)}: compile it with an optimizer alone. To add a penalty, give a layer "
                "a regularizer or call add_loss() in it (reported as layer_loss); for other measures, see "
                "keras_vae.evaluate")
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """Compiles a loaded model as Keras would (it skips a model whose `compile` is its own)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.optimizer is not None:
            self.optimizer.build(self.trainable_variables)
