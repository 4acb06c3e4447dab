"""`torch.func`: function transforms - grad, grad_and_value, vjp, jvp, jacrev, jacfwd,
hessian, functional_call and vmap - composable as PyTorch's are (vmap(grad(loss)) gives
per-example gradients, jacrev(jacrev(f)) a Hessian).

The derivative transforms are reverse mode on the ordinary graph: each differentiates
copies of its arguments that still record when an enclosing transform is watching (they
require grad), so transforms nest. jvp and jacfwd compute through reverse mode too (the
double-vjp trick, the rows of the Jacobian): the values are forward mode's.

vmap runs the function's graph once over the whole batch through each primitive's
batching rule (engine/batching.py); where it cannot (random ops, an untraceable or
differentiable-result function, chunk_size) it runs the function once per element and
stacks the results, with PyTorch's in_dims/out_dims handling and randomness modes.
"""
import functools

from . import batching, pytree, random as _random
from .autograd import enable_grad, grad as _grad
from .autograd.functional import jvp as _jvp
from .ops.shape import stack
from .tensor import Tensor


def _watched(tree):
    """Copies of the tree's tensors that record: views of those an enclosing transform
    is differentiating (so it sees through), fresh leaves otherwise."""
    return pytree.rebuild(tree, iter([t.view_as(t) if t.requires_grad
                                      else t.detach().requires_grad_(True)
                                      for t in pytree.leaves(tree)]))


# ---- derivatives ----------------------------------------------------------------------

def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (gradient of func's scalar output with respect to the
    arguments argnums names, func's output), or ((gradient, (output, aux))) with has_aux."""
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    @functools.wraps(func)
    def transformed(*args, **kwargs):
        nested = any(t.requires_grad for n in nums for t in pytree.leaves(args[n]))
        args = list(args)
        for n in nums:
            args[n] = _watched(args[n])
        with enable_grad():
            result = func(*args, **kwargs)
        output, aux = _split_aux(result, has_aux)
        if not isinstance(output, Tensor) or output.numel() != 1:
            got = f"shape {tuple(output.shape)}" if isinstance(output, Tensor) \
                else type(output).__name__
            raise RuntimeError(f"grad: expected f(*args) to return a scalar Tensor, got {got}")
        wrt = [leaf for n in nums for leaf in pytree.leaves(args[n])]
        found = _grad(output, wrt, create_graph=nested, allow_unused=True) \
            if output.requires_grad else (None,) * len(wrt)
        found = iter([g if g is not None else t.new_zeros(t.shape)
                      for g, t in zip(found, wrt)])
        grads = tuple(pytree.rebuild(args[n], found) for n in nums)
        if not nested:
            grads = pytree.rebuild(grads, iter([g.detach() for g in pytree.leaves(grads)]))
            output = output.detach()
        grads = grads[0] if single else grads
        return (grads, (output, aux)) if has_aux else (grads, output)

    return transformed


def grad(func, argnums=0, has_aux=False):
    """The gradient of func's scalar output with respect to argument argnums (a tuple
    of them for several), as a function of the same arguments."""
    found = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def transformed(*args, **kwargs):
        grads, value = found(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return transformed


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]): vjp_fn(cotangents) gives a tuple with one
    cotangent per primal."""
    nested = any(t.requires_grad for t in pytree.leaves(primals))
    watched = _watched(primals)
    with enable_grad():
        result = func(*watched)
    output, aux = _split_aux(result, has_aux, "vjp")

    def vjp_fn(cotangents):
        outs, cots = pytree.leaves(output), pytree.leaves(cotangents)
        if len(outs) != len(cots):
            raise RuntimeError(f"vjp: expected {len(outs)} cotangents, got {len(cots)}")
        wrt = pytree.leaves(watched)
        found = _grad(outs, wrt, cots, retain_graph=True, create_graph=nested,
                      allow_unused=True)
        found = [g if g is not None else t.new_zeros(t.shape) for g, t in zip(found, wrt)]
        return pytree.rebuild(tuple(primals), iter([g if nested else g.detach() for g in found]))

    shown = output if nested else pytree.rebuild(output, iter([o.detach() for o in
                                                           pytree.leaves(output)]))
    return (shown, vjp_fn, aux) if has_aux else (shown, vjp_fn)


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J tangents), computed through two reverse passes; with has_aux,
    func returns (output, aux) and aux comes back third, untouched."""
    auxes = []

    def primal(*xs):
        output, aux = _split_aux(func(*xs), has_aux, "jvp")
        auxes.append(aux)
        return output

    output, product = _jvp(primal, tuple(primals), tuple(tangents),
                           create_graph=any(t.requires_grad for t in primals), strict=strict)
    return (output, product, auxes[-1]) if has_aux else (output, product)


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """The Jacobian of func with respect to argument argnums, row by row from reverse
    passes: output.shape + input.shape (tuples where argnums or the output are); with
    has_aux, func returns (output, aux) and the result is (jacobian, aux)."""
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    @functools.wraps(func)
    def transformed(*args):
        output, pullback, *aux = vjp(lambda *picked: func(*_put(args, nums, picked)),
                                     *[args[n] for n in nums], has_aux=has_aux)
        outs = output if isinstance(output, tuple) else (output,)
        per_output = []
        for i, out in enumerate(outs):
            rows = []
            for k in range(out.numel()):
                onehot = out.new_zeros(out.numel())
                onehot[k] = 1.0
                cotangents = tuple(onehot.reshape(out.shape) if j == i else o.new_zeros(o.shape)
                                   for j, o in enumerate(outs))
                rows.append(pullback(cotangents if isinstance(output, tuple)
                                     else cotangents[0]))
            blocks = tuple(_rows(out, [r[j] for r in rows], args[n]) for j, n in enumerate(nums))
            per_output.append(blocks[0] if single else blocks)
        jacobian = tuple(per_output) if isinstance(output, tuple) else per_output[0]
        return (jacobian, aux[0]) if has_aux else jacobian

    return transformed


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian, as jacrev computes it (the same values; forward mode would build it
    column by column)."""
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    return jacrev(jacrev(func, argnums), argnums)


def functional_call(module, parameter_and_buffer_dicts, args=(), kwargs=None, *,
                    tie_weights=True, strict=False):
    """module(*args, **kwargs) with the named parameters and buffers replaced by the
    given tensors for this call only (the module is as it was afterwards)."""
    dicts = parameter_and_buffer_dicts
    tensors = {}
    for d in (dicts if isinstance(dicts, (tuple, list)) else (dicts,)):
        for name, value in d.items():
            if name in tensors:
                raise ValueError(f"{name} appeared in multiple dictionaries")
            tensors[name] = value
    if strict:
        expected = {n for n, _ in module.named_parameters()} | \
            {n for n, _ in module.named_buffers()}
        missing, unexpected = expected - set(tensors), set(tensors) - expected
        if missing or unexpected:
            raise RuntimeError(f"functional_call: missing keys {sorted(missing)}, unexpected "
                               f"keys {sorted(unexpected)}")
    saved = []
    try:
        for name, value in tensors.items():
            owner, _, leaf = name.rpartition(".")
            sub = module.get_submodule(owner) if owner else module
            table = sub._parameters if leaf in sub._parameters else sub._buffers
            if leaf not in table:
                raise AttributeError(f"functional_call: {type(module).__name__} has no "
                                     f"parameter or buffer {name!r}")
            saved.append((table, leaf, table[leaf]))
            table[leaf] = value
        args = args if isinstance(args, tuple) else (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for table, leaf, original in reversed(saved):
            table[leaf] = original


# ---- vmap ----------------------------------------------------------------------------

def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over a batch dimension of its arguments (in_dims: one per argument,
    None for an unbatched one, nested like the arguments), the results stacked along
    out_dims. randomness: "error" refuses random ops inside, "different" draws anew for
    every element, "same" draws the same numbers for each."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")

    @functools.wraps(func)
    def mapped(*args):
        dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims is not compatible with the structure of inputs: "
                             f"{len(dims)} in_dims for {len(args)} arguments")
        sizes = {t.shape[d] for arg, dim in zip(args, dims)
                 for t, d in _batched(arg, dim)}
        if not sizes:
            raise ValueError("vmap: at least one argument must be mapped over (in_dims all "
                             "None, or no tensors)")
        if len(sizes) > 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sorted(sizes)} for the mapped dimension")
        (size,) = sizes
        if chunk_size is None:  # one pass over the whole batch, through batching rules
            example = [_select(arg, dim, 0) for arg, dim in zip(args, dims)]
            batched = [pair for arg, dim in zip(args, dims) for pair in _leaf_dims(arg, dim)]
            result = batching.run(func, example, batched, size, out_dims)
            if result is not None:
                return result
        start = _random.snapshot() if randomness == "same" else None
        results = []
        for i in range(size):
            if randomness == "same":
                _random.restore(start)
            before = _random.DRAWS[0]
            results.append(func(*[_select(arg, dim, i) for arg, dim in zip(args, dims)]))
            if randomness == "error" and _random.DRAWS[0] != before:
                raise RuntimeError("vmap: called random operation while in randomness error "
                                   "mode. Please either use the 'same' or 'different' "
                                   "randomness flags on vmap or perform the randomness "
                                   "operation out of vmap")
        return _stack_tree(results, out_dims)

    return mapped


def _leaf_dims(arg, dim):
    """(tensor, mapped dim or None) for every tensor leaf of one argument, in order."""
    if isinstance(arg, Tensor):
        return [(arg, None if dim is None else arg._dim_index(dim))]
    if isinstance(arg, (tuple, list)):
        dims = dim if isinstance(dim, (tuple, list)) else (dim,) * len(arg)
        return [pair for a, d in zip(arg, dims) for pair in _leaf_dims(a, d)]
    if isinstance(arg, dict):
        dims = dim if isinstance(dim, dict) else dict.fromkeys(arg, dim)
        return [pair for key, a in arg.items() for pair in _leaf_dims(a, dims[key])]
    return []


def _batched(arg, dim):
    """(tensor, its mapped dim) for each batched tensor in one argument."""
    return [(t, d) for t, d in _leaf_dims(arg, dim) if d is not None]


def _select(arg, dim, i):
    if dim is None:
        return arg
    if isinstance(arg, Tensor):
        return arg.select(arg._dim_index(dim), i)
    if isinstance(arg, (tuple, list)):
        dims = dim if isinstance(dim, (tuple, list)) else (dim,) * len(arg)
        return type(arg)(_select(a, d, i) for a, d in zip(arg, dims))
    if isinstance(arg, dict):
        dims = dim if isinstance(dim, dict) else dict.fromkeys(arg, dim)
        return {key: _select(a, dims[key], i) for key, a in arg.items()}
    return arg


def _stack_tree(results, out_dims):
    first = results[0]
    if isinstance(first, Tensor):
        return stack(results, out_dims if isinstance(out_dims, int) else 0)
    if isinstance(first, (tuple, list)):
        dims = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(first)
        return type(first)(_stack_tree([r[k] for r in results], dims[k])
                           for k in range(len(first)))
    if isinstance(first, dict):
        return {key: _stack_tree([r[key] for r in results], out_dims) for key in first}
    raise ValueError(f"vmap: the function must return tensors (in tuples, lists or dicts), "
                     f"got {type(first).__name__}")


# ---- small helpers --------------------------------------------------------------------

def _split_aux(result, has_aux, name="grad_and_value"):
    if not has_aux:
        return result, None
    if not (isinstance(result, tuple) and len(result) == 2):
        raise RuntimeError(f"{name}(f)(*args): output of function f should be a tuple: "
                           f"(output, aux) if has_aux is True")
    return result


def _put(args, nums, picked):
    args = list(args)
    for n, value in zip(nums, picked):
        args[n] = value
    return args


def _rows(out, rows, like):
    """Jacobian block d out / d like from the rows of vjps, one per element of out."""
    shape = tuple(out.shape) + tuple(like.shape)
    if not rows:
        return like.new_zeros(shape)
    return stack(rows).reshape(shape)
