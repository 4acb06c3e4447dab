"""The `numbagrad` command (also `python -m engine`): list and run the examples.

    numbagrad list
    numbagrad run NAME [--device cpu|cuda] [--epochs N] [--batch-size N] [--lr X]
                       [--seed N] [--graph FILE.svg|png|pdf] [--explain]
                       [--loss-curve FILE.png|svg] [--data-root DIR] [--quiet]
                       [--nproc N [--all-ranks]] [--save FILE] [--compile]

Bad names and options give one line on stderr and exit status 2 before any work
starts, never a traceback; an option the example does not use is refused, not ignored.
A run that misses its goal exits with 3.
"""
import argparse
import difflib
import importlib
import math
import os
import sys
import time

from .progress import progress  # noqa: F401 - the examples' progress bar


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _Usage(message)


def _examples():
    from engine import examples

    return examples.NAMES


def _load(name):
    names = _examples()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise _Usage(f"unknown example '{name}'{hint}; `numbagrad list` shows them")
    return importlib.import_module(f"engine.examples.{name}")


def _parser():
    parser = _Parser(prog="numbagrad", description="Run numbagrad's tutorial examples.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the examples, one line each")
    run = sub.add_parser("run", help="run one example")
    run.add_argument("name")
    add_run_options(run)
    return parser


def add_run_options(parser):
    """The options every example understands (--seed, the outputs) and those it may
    take (each example's DEFAULTS name the ones it uses)."""
    parser.add_argument("--device", choices=["cpu", "cuda"])
    parser.add_argument("--epochs", type=_positive(int, "a positive integer"))
    parser.add_argument("--batch-size", type=_positive(int, "a positive integer"))
    parser.add_argument("--lr", type=_positive(float, "a positive number"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--graph", metavar="FILE",
                        help="draw the last loss's graph (.svg, .png or .pdf)")
    parser.add_argument("--explain", action="store_true",
                        help="print the backward walk of the last step")
    parser.add_argument("--loss-curve", metavar="FILE", help="plot the losses (.png or .svg)")
    parser.add_argument("--data-root", metavar="DIR",
                        help="where datasets live (default: $NUMBAGRAD_DATA, else "
                             "~/.cache/numbagrad)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--nproc", type=_positive(int, "a positive integer"),
                        help="train data-parallel on N MPI ranks (started with mpiexec)")
    parser.add_argument("--all-ranks", action="store_true",
                        help="with --nproc, print every rank's output, not only rank 0's")
    parser.add_argument("--compile", action="store_true",
                        help="run the example's model compiled (engine.compile)")
    parser.add_argument("--save", metavar="FILE",
                        help="save the trained weights (engine.save; rank 0 only)")


# Options every example honours; the others apply where the example's DEFAULTS name them.
_UNIVERSAL = {"seed", "graph", "explain", "loss_curve", "quiet", "command", "name",
              "all_ranks", "compile"}


def _positive(kind, what):
    """An argparse type: a finite number above 0, refused in words otherwise."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got '{text}'") from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"expected {what}, got '{text}'")
        return value

    return parse


def default_data_root():
    """$NUMBAGRAD_DATA, else the user's cache folder: never the working directory, where
    a folder named data is the `data` package itself in a checkout of numbagrad."""
    root = os.environ.get("NUMBAGRAD_DATA")
    if root:
        return root
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "numbagrad")


def configure(module, options):
    """The example's defaults, overridden by whatever the command line set; an option the
    example does not use is an error, not silently dropped."""
    name = _short_name(module)
    given = {k: v for k, v in vars(options).items() if v is not None and k not in _UNIVERSAL}
    unused = [k for k in given if k not in module.DEFAULTS]
    if unused:
        own = ", ".join("--" + k.replace("_", "-") for k in module.DEFAULTS) or "none"
        raise _Usage(f"{', '.join('--' + k.replace('_', '-') for k in unused)} does not "
                     f"apply to {name} (its own options: {own})")
    config = argparse.Namespace(**{**module.DEFAULTS, **given})
    for key in _UNIVERSAL:
        setattr(config, key, getattr(options, key, None))
    if "data_root" in module.DEFAULTS and config.data_root is None:
        config.data_root = default_data_root()
    config.progress = not getattr(options, "quiet", False)
    return config


def _check_output(option, path, suffixes):
    """An output file the run will write: a known kind, in a folder that exists; checked
    before the run, not after minutes of training."""
    if not path.lower().endswith(suffixes):
        raise _Usage(f"{option} needs a {', '.join(suffixes[:-1])} or {suffixes[-1]} file "
                     f"name, got '{path}'")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise _Usage(f"{option} {path}: the folder {folder} does not exist")


def run_example(module, options, out=None):
    """Run an example with options; print its summary; returns its result dict."""
    import engine

    out = out or sys.stdout
    if options.graph:
        _check_output("--graph", options.graph, (".svg", ".png", ".pdf"))
    if options.loss_curve:
        _check_output("--loss-curve", options.loss_curve, (".png", ".svg"))
    config = configure(module, options)
    if getattr(config, "device", None) == "cuda" and not engine.cuda.is_available():
        raise _Usage("--device cuda: CUDA is not available on this machine")
    if getattr(config, "save", None):
        _check_output("--save", config.save, (".pt", ".pth", ".ckpt"))
    if getattr(config, "nproc", 1) > 1:
        out = _join_ranks(config, options, out)
    engine.manual_seed(config.seed)
    start = time.monotonic()
    engine.compiler.COMPILE_TOP_LEVEL[0] = bool(options.compile)
    try:
        result = module.run(config)
    finally:
        engine.compiler.COMPILE_TOP_LEVEL[0] = False
    seconds = time.monotonic() - start
    metric, target = module.GOAL
    value = result[metric]
    reached = value >= target if metric == "accuracy" else value <= target
    parts = [f"{_short_name(module)}: loss {result['loss']:.4f}"]
    if result.get("accuracy") is not None:
        parts.append(f"accuracy {result['accuracy']:.4f}")
    parts.append(f"time {seconds:.1f}s")
    parts.append(f"goal {metric} {'>=' if metric == 'accuracy' else '<='} {target}: "
                 f"{'reached' if reached else 'NOT reached'}")
    print(", ".join(parts), file=out)
    if (options.graph or options.explain) and result.get("graph") is None:
        raise _Usage(f"{_short_name(module)} builds no autograd graph to draw or explain")
    if options.graph:
        engine.viz.draw(result["graph"], result.get("params")).export(options.graph)
        print(f"graph written to {options.graph}", file=out)
    if options.explain:
        print(engine.viz.explain(result["explain"](), result.get("params")), file=out)
    if options.loss_curve:
        from .plot import loss_curve

        loss_curve(result["losses"], options.loss_curve, title=f"{_short_name(module)} loss")
        print(f"loss curve written to {options.loss_curve}", file=out)
    result["reached"] = reached
    return result


def _join_ranks(config, options, out):
    """Inside one of --nproc N ranks: join the MPI job (checking it has N ranks); every
    rank but 0 prints nothing unless --all-ranks. Returns where the summary goes."""
    from engine import distributed as dist

    dist.init_process_group("mpi")
    if dist.get_world_size() != config.nproc:
        raise _Usage(f"--nproc {config.nproc}, but this job has {dist.get_world_size()} MPI "
                     f"rank(s); start it with `numbagrad run NAME --nproc N`, or with "
                     f"mpiexec -n {config.nproc}")
    if dist.get_rank() != 0 and not options.all_ranks:
        config.progress = False
        sys.stdout = open(os.devnull, "w")
        return sys.stdout
    return out


def _inside_mpi_job():
    """True in a process started by an MPI launcher (MPICH, Open MPI, Slurm, PMIx)."""
    return any(name in os.environ for name in
               ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_SIZE"))


def launch(argv, nproc):
    """`--nproc N` outside an MPI job: start N copies of this command under mpiexec,
    which pass through here again, each as one rank; returns mpiexec's status."""
    import subprocess

    from engine.distributed.mpi import find_mpiexec

    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise _Usage("--nproc needs MPI's mpiexec, which is not installed: "
                     "pip install mpi4py mpich")
    return subprocess.call([mpiexec, "-n", str(nproc), sys.executable, "-m", "engine", *argv])


def _short_name(module):
    return os.path.splitext(os.path.basename(module.__file__))[0]


def main(argv=None):
    """`numbagrad ...`: returns the exit status."""
    def command():
        options = _parser().parse_args(argv)
        if options.command == "list":
            for name in _examples():
                doc = (_load(name).__doc__ or "").strip().splitlines()
                print(f"{name:24} {doc[0] if doc else ''}")
            sys.stdout.flush()
            return 0
        module = _load(options.name)
        if (options.nproc or 1) > 1 and not _inside_mpi_job():
            configure(module, options)  # an option the example does not take: refused here
            return launch(sys.argv[1:] if argv is None else list(argv), options.nproc)
        return _status(run_example(module, options))

    return _guarded("numbagrad", command)


def standalone(module, argv=None):
    """`python examples/NAME.py [options]`: the same options, messages and exit status
    as `numbagrad run NAME`."""
    prog = f"python examples/{os.path.basename(module.__file__)}"
    parser = _Parser(prog=prog)
    add_run_options(parser)
    return _guarded(prog, lambda: _status(run_example(module, parser.parse_args(argv))))


def _status(result):
    return 0 if result["reached"] else 3


def _guarded(prog, command):
    """Run command() and turn every way it can end into an exit status: 2 for usage,
    1 for a failure (one line; NUMBAGRAD_DEBUG=1 shows the traceback), 130 for ^C, and a
    closed output pipe (`numbagrad list | head -1`) ends quietly."""
    try:
        return command()
    except _Usage as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Whoever read our output has gone: send the rest nowhere, and exit as if done.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ModuleNotFoundError as e:
        print(f"{prog}: error: this needs the {e.name} package, which is not installed: "
              f"{_INSTALL_HINTS.get(e.name, f'pip install {e.name}')}", file=sys.stderr)
        return 1
    except Exception as e:  # one line, not a traceback; NUMBAGRAD_DEBUG=1 for the trace
        if os.environ.get("NUMBAGRAD_DEBUG"):
            raise
        print(f"{prog}: error: {type(e).__name__}: {e}", file=sys.stderr)
        _abort_other_ranks(e)
        return 1


def _abort_other_ranks(error):
    """A rank of --nproc N that fails ends the job, rather than leave the others waiting."""
    group = sys.modules.get("engine.distributed.group")
    if group is not None:
        group.abort(f"{type(error).__name__}: {error}")


_INSTALL_HINTS = {"sklearn": 'pip install scikit-learn (or pip install -e ".[examples]" in '
                             'a checkout of numbagrad)'}
