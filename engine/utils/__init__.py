"""`torch.utils`: `data` (numbagrad's data package, the same module), `checkpoint`, and
`tensorboard` (where the tensorboard package is installed)."""
