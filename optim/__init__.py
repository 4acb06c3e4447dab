"""`optim`: PyTorch's optimizers (each step one fused kernel per parameter) and schedulers."""
from . import lr_scheduler  # noqa: F401
from .adagrad import Adagrad, RMSprop  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .adaptive import Adadelta, Adamax, NAdam, RAdam  # noqa: F401
from .lbfgs import LBFGS  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
