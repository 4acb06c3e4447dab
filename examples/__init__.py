"""The tutorial programs; each runs alone (`python examples/NAME.py`) and through the CLI
(`numbagrad run NAME`), installed as `engine.examples`. Each defines DEFAULTS (the
options it takes, and their values), a stated GOAL and `run(config)`."""
NAMES = ["autograd_walkthrough", "or_gate", "logistic_regression", "my_linear",
         "fashion_mnist_mlp", "text_dataset", "notmnist", "digits", "char_gpt", "private_sgd"]
