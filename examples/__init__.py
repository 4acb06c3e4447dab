"""The tutorial programs; each runs alone with `python examples/NAME.py`."""
