"""Random number generators: `manual_seed` makes every random op repeatable."""
import numpy as np

from .device import CPU, backend
from .tracing import graph_break

_DEFAULT_SEED = 67280421310721  # PyTorch's default seed


class Generator:
    """A seeded stream of random numbers for one device (PCG64 on the CPU)."""

    def __init__(self, device="cpu"):
        from .device import canonical

        self.device = canonical(device)
        self._seed = _DEFAULT_SEED
        self._state = backend(self.device).generator(self._seed)

    def manual_seed(self, seed):
        """Reseeds the backend state in place, keeping its identity: a compiled graph's
        random ops hold that state, and draw from the new seed at their next replay.
        Called inside a compiled function, it ends the trace (a replay would not
        reseed)."""
        graph_break("seeding a generator (a replay would not reseed it)")
        self._seed = int(seed)
        backend(self.device).reseed(self._state, self._seed)
        return self

    def seed(self):
        self.manual_seed(int(np.random.SeedSequence().entropy) % (2 ** 63))
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        from .creation import tensor

        graph_break("reading a generator's state (a replay would return the traced one)")
        raw = self._state.bit_generator.state
        encoded = np.frombuffer(repr(raw).encode(), dtype=np.uint8).copy()
        return tensor(encoded)

    def set_state(self, state):
        import ast

        graph_break("setting a generator's state (a replay would not set it)")
        text = bytes(state.numpy().astype(np.uint8)).decode()
        self._state.bit_generator.state = ast.literal_eval(text)
        return self


default_generator = Generator(CPU)
_device_generators = {CPU: default_generator}


def default_generator_for(device):
    """The device's default Generator, seeded like the CPU's when first used."""
    gen = _device_generators.get(device)
    if gen is None:
        gen = _device_generators[device] = Generator(device).manual_seed(
            default_generator.initial_seed())
    return gen


# Random ops that asked for a generator to draw from: vmap and checkpoint compare it
# before and after a function to learn whether the function draws.
DRAWS = [0]


def generator_for(device, generator=None):
    """The backend generator state to draw from: the caller's, or the device's default."""
    DRAWS[0] += 1
    if generator is not None:
        if generator.device != device:
            raise RuntimeError(f"Expected a '{device.type}' device type for generator but "
                               f"found '{generator.device.type}'")
        return generator._state
    return default_generator_for(device)._state


def manual_seed(seed):
    """Seed every device's default generator; returns the CPU one, as PyTorch does."""
    seed = int(seed)
    for gen in _device_generators.values():
        gen.manual_seed(seed)
    return default_generator


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def snapshot():
    """A copy of every device's default generator state, making no tensor (a trace may
    be under way): what checkpoint and vmap put back with `restore`."""
    return {device: backend(device).saved_state(gen._state)
            for device, gen in _device_generators.items()}


def restore(saved):
    """Put back a `snapshot()`."""
    graph_break("restoring the random state (a replay would not restore it)")
    for device, state in saved.items():
        backend(device).load_state(_device_generators[device]._state, state)


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)
