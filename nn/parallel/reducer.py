"""DistributedDataParallel's gradient averaging: buckets of gradients, each averaged
over the ranks by one non-blocking allreduce started as soon as its last gradient is
ready, so that communication overlaps the rest of backward (as PyTorch's Reducer).
"""
import engine
from engine import distributed as dist
from engine.autograd.graph import build_graph, queue_callback
from engine.autograd.node import AccumulateGrad

MIB = 1024 * 1024
FIRST_BUCKET_BYTES = 1 * MIB  # PyTorch's first bucket, when bucket_cap_mb is not given


def assign_buckets(params, cap_bytes, first_cap_bytes):
    """Lists of parameters, in reverse registration order (roughly the order backward
    produces their gradients), cut where a bucket would pass its byte cap, and kept to
    one dtype and device each."""
    buckets, current, size, cap = [], [], 0, first_cap_bytes
    for p in reversed(params):
        nbytes = p.numel() * p.element_size()
        if current and (size + nbytes > cap or (p.dtype, p.device) !=
                        (current[0].dtype, current[0].device)):
            buckets.append(current)
            current, size, cap = [], 0, cap_bytes
        current.append(p)
        size += nbytes
    if current:
        buckets.append(current)
    return buckets


class _Bucket:
    """Parameters whose gradients are averaged together, in one flat buffer kept from
    step to step (a fresh one each step cost more than the allreduce: page faults)."""

    def __init__(self, params):
        self.params = params
        self.ready = 0
        self.work = None
        self.flat = engine.zeros(sum(p.numel() for p in params), dtype=params[0].dtype,
                                 device=params[0].device)
        self.views, offset = [], 0
        for p in params:
            self.views.append(self.flat[offset:offset + p.numel()].view(p.shape))
            offset += p.numel()


class Reducer:
    """Averages the gradients of `params` once per backward that follows an armed forward.

    Buckets are launched strictly in order on every rank (MPI matches collectives by
    order), each as soon as it and all buckets before it are complete.
    """

    def __init__(self, named_params, cap_bytes, first_cap_bytes, find_unused, grads_as_views):
        self.names = {id(p): name for name, p in named_params}
        params = [p for _, p in named_params]
        self.buckets = [_Bucket(b) for b in assign_buckets(params, cap_bytes, first_cap_bytes)]
        self.bucket_of = {id(p): b for b in self.buckets for p in b.params}
        self.find_unused, self.grads_as_views = find_unused, grads_as_views
        self.armed = self.queued = False
        self.next_bucket, self.used, self.seen = 0, None, set()
        self.handles = [p.register_post_accumulate_grad_hook(self._grad_ready)
                        for p in params]

    def prepare(self, used):
        """Called by forward: the coming backward must average the gradients. `used`:
        with find_unused, the ids of the parameters it will reach (reached_leaves)."""
        if self.armed and self.seen:
            raise RuntimeError(
                "DistributedDataParallel: expected the previous backward to finish averaging "
                f"gradients before a new forward, but {self._missing()} got no gradient. "
                "If the model does not use every parameter in every step, pass "
                "find_unused_parameters=True to DistributedDataParallel.")
        for b in self.buckets:
            b.ready, b.work = 0, None
        self.next_bucket, self.queued, self.armed = 0, False, True
        self.used, self.seen = None, set()
        if self.find_unused:
            self.used = used
            for b in self.buckets:
                b.ready = sum(id(p) not in self.used for p in b.params)

    def _grad_ready(self, p):
        if not self.armed:
            return
        if not self.queued:
            queue_callback(self._finish)
            self.queued = True
        self.seen.add(id(p))
        self.bucket_of[id(p)].ready += 1
        self._launch_ready()

    def _launch_ready(self):
        while (self.next_bucket < len(self.buckets)
               and self.buckets[self.next_bucket].ready == len(self.buckets[self.next_bucket]
                                                               .params)):
            self._launch(self.buckets[self.next_bucket])
            self.next_bucket += 1

    def _launch(self, bucket):
        """Copy the gradients into the bucket and start averaging it over the ranks."""
        with engine.no_grad():
            for p, view in zip(bucket.params, bucket.views):
                if p.grad is None:
                    view.zero_()
                elif p.grad is not view:
                    view.copy_(p.grad)
        bucket.work = dist.all_reduce(bucket.flat, dist.ReduceOp.AVG, async_op=True)

    def _finish(self):
        """End of backward: wait for every bucket and write the averages into `.grad`."""
        self._launch_ready()
        if self.next_bucket < len(self.buckets):
            self.armed = False
            raise RuntimeError(
                f"DistributedDataParallel: {self._missing()} received no gradient in this "
                "backward, so their bucket could not be averaged. If the model does not use "
                "every parameter in every step, pass find_unused_parameters=True.")
        used_anywhere = self._used_anywhere()
        for bucket in self.buckets:
            bucket.work.wait()
            self._write_back(bucket, used_anywhere)
            bucket.work = None
        self.armed = False

    def _used_anywhere(self):
        """With find_unused_parameters, which parameters some rank used (one allreduce of
        a bitmap): a parameter no rank used keeps its `.grad` as it was."""
        if self.used is None:
            return None
        params = [p for b in self.buckets for p in b.params]
        flags = engine.tensor([id(p) in self.used for p in params], dtype=engine.uint8)
        dist.all_reduce(flags, dist.ReduceOp.MAX)
        return {id(p) for p, f in zip(params, flags.tolist()) if f}

    def _write_back(self, bucket, used_anywhere):
        with engine.no_grad():
            for p, average in zip(bucket.params, bucket.views):
                if used_anywhere is not None and id(p) not in used_anywhere:
                    continue
                if self.grads_as_views:
                    p.grad = average
                elif p.grad is None:
                    p.grad = average.clone()
                else:
                    p.grad.copy_(average)

    def _missing(self):
        names = [self.names[id(p)] for b in self.buckets for p in b.params
                 if id(p) not in self.seen and (self.used is None or id(p) in self.used)]
        return f"parameters {names}" if names else "some parameters"

    def remove_hooks(self):
        for handle in self.handles:
            handle.remove()


def reached_leaves(outputs):
    """ids of the leaf tensors whose gradient a backward from `outputs` would reach."""
    roots = [t.grad_fn for t in _tensors(outputs) if t.grad_fn is not None]
    if not roots:
        return set()
    return {id(node.variable) for node in build_graph(roots) if isinstance(node,
                                                                          AccumulateGrad)}


def _tensors(value):
    if isinstance(value, engine.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
