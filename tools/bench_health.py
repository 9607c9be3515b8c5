"""Time and peak memory of the health report against one plain forward and backward pass.

``python -m tools bench-health [--models NAME ...] [--repeat N] [--no-large]``

For every model of the calibration zoo (:mod:`relucourse.health_zoo`) and a
GPT-2-small-sized config (124M parameters, batch 8 x 128 tokens), prints

* the report's best time over ``--repeat`` runs divided by the best time of
  one plain forward and backward pass on the same batch
  (:func:`relucourse.health_zoo.training_loss`, then ``loss.backward()``),
  the two timed in one process and in turns, so that a change of load on
  the machine hits both alike (``--threads``: torch's threads, 1 by default,
  steadier on a shared machine);
* the report's peak memory divided by the plain pass's, two ways, each in a
  fresh process of its own (so that one cannot inherit the other's peak):
  "first call", the growth of the peak resident set size (``ru_maxrss``)
  over the process's size once the model and batch are built, on the first
  call, which also counts what any first call brings in once per process
  (library code, kernels met for the first time, allocator arenas: about
  8 MB for a plain pass of the book's 9,000-parameter MLP, of which a second
  pass adds none); and "warm", the growth of the peak resident set size on
  a second call, after the first, with freed heap memory handed back to the
  system (``malloc_trim``) and the peak reset (``/proc/self/clear_refs``),
  as the time is measured after a warm-up: the memory the call's own data
  takes. The warm column needs Linux and glibc; elsewhere it shows "-".

Not a timed test: the numbers depend on the machine and its
load; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import resource
import subprocess
import sys
import time

LARGE = "GPT-2 small (124M)"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm_peak_mb(run) -> float | None:
    """Peak RSS growth of ``run()`` after a first call, with the heap trimmed and the peak reset."""
    run()
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")                                  # resets VmHWM to the current RSS
    except (OSError, AttributeError):
        return None
    start = _rss_mb()
    run()
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    return hwm / 1024 - start


def _setup(name: str, n: int | None = None):
    import torch

    from relucourse import health_zoo as zoo

    if name == LARGE:
        T = zoo._transformers()
        torch.manual_seed(0)
        model = T.GPT2LMHeadModel(T.GPT2Config(n_positions=128, bos_token_id=0, eos_token_id=0))
        tokens = torch.randint(0, model.config.vocab_size, (8, 128), generator=torch.Generator().manual_seed(0))
        return model, {"input_ids": tokens, "labels": tokens}, None
    X, y = zoo.inputs(name, n=n or zoo.ZOO_INPUTS)
    return zoo.build(name), X, y


def _one(name: str, what: str, repeat: int, threads: int = 1, n: int = 0) -> dict:
    import torch

    from relucourse import health_zoo as zoo
    from relucourse.health import health_report

    torch.set_num_threads(threads)
    model, X, y = _setup(name, n)
    base = _rss_mb()

    def plain():
        zoo.training_loss(model, X, y).backward()
        model.zero_grad(set_to_none=True)

    def report():
        health_report(model, X, y, batch_size=4096)

    out = {"parameters": sum(p.numel() for p in model.parameters())}
    if what in ("plain", "report"):
        (plain if what == "plain" else report)()       # the first run sets the peak
        out["peak_mb"] = _peak_mb() - base
        return out
    if what in ("plain-warm", "report-warm"):
        out["peak_mb"] = _warm_peak_mb(plain if what == "plain-warm" else report)
        return out
    best = {"plain": float("inf"), "report": float("inf")}
    plain(), report()                                 # warm-up
    for _ in range(repeat):                           # in turns
        for key, run in (("plain", plain), ("report", report)):
            start = time.perf_counter()
            run()
            best[key] = min(best[key], time.perf_counter() - start)
    out.update(best)
    return out


def _measure(name: str, what: str, repeat: int, threads: int, n: int = 0) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "tools.bench_health", "--one", name, what, str(repeat),
                          str(threads), str(n)], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Print the table; ``--one NAME WHAT REPEAT`` measures one pass in this process (JSON).

    Args: argv: the command line without the program name.
    Returns: the exit status.
    Raises: subprocess.CalledProcessError when a measurement fails.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--one"]:
        print(json.dumps(_one(argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5]))))
        return 0
    from relucourse import health_zoo as zoo
    from relucourse.benchmark import machine_description

    parser = argparse.ArgumentParser(prog="python -m tools bench-health", description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=None, help="zoo model names (default: all)")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs of each, in turns (best kept)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--no-large", action="store_true", help="leave out the GPT-2-small-sized config")
    parser.add_argument("--inputs", type=int, default=0,
                        help="inputs per zoo model (default: the zoo's own, 32; the report's batch is 256)")
    args = parser.parse_args(argv)
    names = list(args.models or zoo.MODELS) + ([] if args.no_large else [LARGE])
    print(f"health_report / plain forward+backward ({machine_description()}; torch threads: "
          f"{args.threads}; inputs per zoo model: {args.inputs or zoo.ZOO_INPUTS}; "
          f"load average {os.getloadavg()[0]:.1f} at the start)")
    print(f"{'':<31}{'':>9}{'memory':>9}{'memory':>9}")
    print(f"{'model':<20}{'params':>11}{'time':>9}{'1st call':>9}{'warm':>9}   plain / report: ms, MB "
          "(1st call), MB (warm)")
    worst_t = worst_m = worst_w = 0.0
    for name in names:
        times = _measure(name, "time", args.repeat, args.threads, args.inputs)
        plain = _measure(name, "plain", 0, args.threads, args.inputs)
        report = _measure(name, "report", 0, args.threads, args.inputs)
        plain_w = _measure(name, "plain-warm", 0, args.threads, args.inputs)["peak_mb"]
        report_w = _measure(name, "report-warm", 0, args.threads, args.inputs)["peak_mb"]
        t = times["report"] / times["plain"]
        m = report["peak_mb"] / max(plain["peak_mb"], 1e-9)
        warm = None if plain_w is None or report_w is None else report_w / max(plain_w, 1e-9)
        worst_t, worst_m = max(worst_t, t), max(worst_m, m)
        worst_w = max(worst_w, warm or 0.0)
        warm_text = f"{warm:>8.2f}x" if warm is not None else f"{'-':>9}"
        warm_mb = f", {plain_w:.2f} / {report_w:.2f} MB" if warm is not None else ""
        print(f"{name[:20]:<20}{plain['parameters']:>11,}{t:>8.2f}x{m:>8.2f}x{warm_text}   "
              f"{1e3 * times['plain']:.1f} / {1e3 * times['report']:.1f} ms, "
              f"{plain['peak_mb']:.1f} / {report['peak_mb']:.1f} MB{warm_mb}", flush=True)
    print(f"worst: time {worst_t:.2f}x (goal 2x), memory {worst_m:.2f}x first call, {worst_w:.2f}x warm "
          f"(goal 1.5x); load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
