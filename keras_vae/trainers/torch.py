"""PyTorch backend: `loss.backward()`, then the optimizer's update without autograd."""

import torch

#: inference without autograd: its outputs track no gradients
no_grad = torch.no_grad


def train_step(model, data):
    """One optimisation step on a batch; returns the logs."""
    model.zero_grad()
    terms = model.compute_loss_terms(data, training=True)
    model.optimizer.scale_loss(terms["loss"]).backward()
    variables = model.trainable_variables
    with torch.no_grad():
        model.optimizer.apply([v.value.grad for v in variables], variables)
    return model.update_metrics({name: value.detach() for name, value in terms.items()})


def test_step(model, data):
    """Evaluates the loss terms on a batch; returns the logs."""
    with torch.no_grad():
        return model.update_metrics(model.compute_loss_terms(data, training=False))
