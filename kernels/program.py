"""The body of a fused elementwise program as source text, shared by the CPU and CUDA
code generators. A program is a list of steps `(name, args)`, each a call of a
`kernels.scalar` function whose args are inputs `("in", i)`, earlier steps `("step", j)`
or numbers; each step's value is cast to the dtype (`cast`, the text of a cast
function), as the separate kernels would round it."""


def lines(steps, cast, inputs, indent):
    """One assignment `t<j> = ...` per step; `inputs` is the text that reads each input."""
    return [f"{indent}t{j} = {cast}({name}({', '.join(_argument(a, cast, inputs) for a in args)}))"
            for j, (name, args) in enumerate(steps)]


def _argument(arg, cast, inputs):
    if isinstance(arg, tuple):
        return inputs[arg[1]] if arg[0] == "in" else f"t{arg[1]}"
    return f"{cast}({arg!r})"
