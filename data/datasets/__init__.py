"""Datasets that tutorials use, in torchvision's folder layouts, with verified downloads."""
from .folder import ImageFolder  # noqa: F401
from .mnist import KMNIST, MNIST, FashionMNIST  # noqa: F401
from .notmnist import NotMNIST  # noqa: F401
