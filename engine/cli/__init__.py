"""The `numbagrad` command (also `python -m engine`): list and run the examples.

    numbagrad list
    numbagrad run NAME [--device cpu|cuda] [--epochs N] [--batch-size N] [--lr X]
                       [--seed N] [--graph FILE.svg|png] [--explain] [--loss-curve FILE.png]
                       [--data-root DIR] [--quiet]

Bad names and options give one line on stderr and a non-zero exit, never a traceback.
"""
import argparse
import difflib
import importlib
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
    import examples

    return examples.NAMES


def _load(name):
    names = _examples()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise _Usage(f"unknown example '{name}'{hint}; `numbagrad list` shows them")
    return importlib.import_module(f"examples.{name}")


def _parser():
    parser = _Parser(prog="numbagrad", description="Run numbagrad's tutorial examples.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the examples, one line each")
    run = sub.add_parser("run", help="run one example")
    run.add_argument("name")
    add_run_options(run)
    return parser


def add_run_options(parser):
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--epochs", type=_positive_int)
    parser.add_argument("--batch-size", type=_positive_int)
    parser.add_argument("--lr", type=_positive_float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--graph", metavar="FILE", help="draw the last loss's graph (.svg/.png)")
    parser.add_argument("--explain", action="store_true",
                        help="print the backward walk of the last step")
    parser.add_argument("--loss-curve", metavar="FILE.png")
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def configure(module, options):
    """The example's defaults, overridden by whatever the command line set."""
    config = argparse.Namespace(**module.DEFAULTS)
    for key, value in vars(options).items():
        if value is not None or not hasattr(config, key):
            setattr(config, key, value)
    config.progress = not getattr(options, "quiet", False)
    return config


def run_example(module, options, out=None):
    """Run an example with options; print its summary; returns its result dict."""
    import engine

    out = out or sys.stdout
    if options.graph and not options.graph.lower().endswith((".svg", ".png", ".pdf")):
        raise _Usage(f"--graph needs a .svg, .png or .pdf file name, got '{options.graph}'")
    if options.device == "cuda" and not engine.cuda.is_available():
        raise _Usage("--device cuda: CUDA is not available on this machine")
    config = configure(module, options)
    engine.manual_seed(config.seed)
    start = time.monotonic()
    result = module.run(config)
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


def _short_name(module):
    return os.path.splitext(os.path.basename(module.__file__))[0]


def main(argv=None):
    try:
        options = _parser().parse_args(argv)
        if options.command == "list":
            for name in _examples():
                doc = (_load(name).__doc__ or "").strip().splitlines()
                print(f"{name:24} {doc[0] if doc else ''}")
            return 0
        result = run_example(_load(options.name), options)
        return 0 if result["reached"] else 3
    except _Usage as e:
        print(f"numbagrad: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("numbagrad: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one line, not a traceback; NUMBAGRAD_DEBUG=1 for the trace
        if os.environ.get("NUMBAGRAD_DEBUG"):
            raise
        print(f"numbagrad: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


def standalone(module, argv=None):
    """`python examples/NAME.py [options]`: the same options as `numbagrad run NAME`."""
    parser = _Parser(prog=f"python examples/{os.path.basename(module.__file__)}")
    add_run_options(parser)
    try:
        return run_example(module, parser.parse_args(argv))
    except _Usage as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        raise SystemExit(2)
