"""Benchmarks against PyTorch and NumPy on the same work, in the same process."""
