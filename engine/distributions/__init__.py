"""`torch.distributions`: the distributions reinforcement-learning and variational
programs reach for first, with PyTorch's parameters, shapes, validation and methods.

Their log-densities and entropies are written in engine ops, so they are
differentiable in their parameters (REINFORCE's log_prob(action) * reward), and
`rsample` draws through the reparameterisation, so gradients flow into loc and scale.
"""
from .bernoulli import Bernoulli  # noqa: F401
from .categorical import Categorical  # noqa: F401
from .distribution import Distribution  # noqa: F401
from .normal import Normal  # noqa: F401
