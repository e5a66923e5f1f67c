"""TensorFlow backend: the gradient step under `tf.GradientTape`."""

import contextlib

import tensorflow as tf

#: inference records no gradients here unless a GradientTape asks for them
no_grad = contextlib.nullcontext


def train_step(model, data):
    """One optimisation step on a batch; returns the logs."""
    with tf.GradientTape() as tape:
        terms = model.compute_loss_terms(data, training=True)
        loss = model.optimizer.scale_loss(terms["loss"])
    variables = model.trainable_variables
    model.optimizer.apply(tape.gradient(loss, variables), variables)
    return model.update_metrics(terms)


def test_step(model, data):
    """Evaluates the loss terms on a batch; returns the logs."""
    return model.update_metrics(model.compute_loss_terms(data, training=False))
