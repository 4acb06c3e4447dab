"""The functions a backend must provide, with the same names and signatures everywhere.

Ops in `engine` call only these names, so adding a device means adding a module
that defines all of them; `missing(module)` says what a new backend still lacks.
Arrays are the backend's own (numpy arrays on the CPU); `out=` arguments, where
present, let callers write into memory they already own.
"""

MEMORY = (
    "empty", "full", "arange", "linspace", "eye", "from_numpy", "to_numpy", "astype",
    "copy", "copy_into", "memory_root", "reshape", "permute", "broadcast_to",
    "getitem", "setitem", "index_add", "concatenate", "stack", "where",
)
RANDOM = ("generator", "uniform", "normal", "randint", "bernoulli", "multinomial")
ELEMENTWISE = (
    "neg", "exp", "log", "log1p", "sqrt", "abs", "sign", "sin", "cos", "tanh", "sigmoid",
    "floor", "ceil", "round", "tan", "asin", "acos", "atan", "sinh", "cosh", "erf", "exp2",
    "expm1", "trunc", "atan2", "fmod",
    "relu", "relu_backward", "sigmoid_backward", "tanh_backward",
    "leaky_relu", "leaky_relu_backward", "gelu", "gelu_backward", "softplus",
    "clamp", "clamp_mask", "add", "sub", "mul", "div", "floor_divide", "remainder",
    "pow", "maximum", "minimum",
    "eq", "ne", "lt", "le", "gt", "ge", "logical_not",
    "add_", "sub_", "mul_", "div_",
)
REDUCTION = (
    "sum", "amax", "amin", "max_along", "min_along", "logsumexp",
    "softmax", "log_softmax", "softmax_backward", "log_softmax_backward",
    "gather", "scatter_add", "cross_entropy_rows", "cross_entropy_backward_rows", "argsort",
    "cumsum",
)
LINALG = ("matmul",)
WINDOWS = ("unfold", "fold")
OPTIM = ("sgd_step", "adam_step", "adagrad_step", "rmsprop_step", "adamax_step", "nadam_step",
         "radam_step", "adadelta_step")

REQUIRED = MEMORY + RANDOM + ELEMENTWISE + REDUCTION + LINALG + WINDOWS + OPTIM


def missing(backend):
    """Names from REQUIRED that `backend` does not define."""
    return [name for name in REQUIRED if not hasattr(backend, name)]
