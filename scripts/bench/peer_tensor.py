"""PyTorch peer of scripts/bench/tensor.ts: the same trials, same method.

    python scripts/bench/peer_tensor.py --threads N --trials '<JSON list>'

tensor.ts passes its TRIALS list; without --trials a default set runs.
Prints one JSON line per trial with peer: 'pytorch'.
"""
import argparse
import json
import os
import platform
import statistics
import time

import torch

DEFAULT_TRIALS = [
    {"family": "matmul", "name": "matmul_512", "n": 512, "warmup": 3, "reps": 9},
    {"family": "matmul", "name": "matmul_1024", "n": 1024, "warmup": 2, "reps": 7},
    {"family": "matmul", "name": "matmul_2048", "n": 2048, "warmup": 2, "reps": 7},
    {"family": "overhead", "name": "add_1", "op": "add", "calls": 20000, "samples": 9},
    {"family": "overhead", "name": "matmul_1x1", "op": "matmul", "calls": 20000, "samples": 9},
]


def measure_matmul(n, warmup, reps):
    """Same as common.ts measureMatmul: inner products per sample sized to ~50 ms."""
    g = torch.Generator().manual_seed(1)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    t0 = time.perf_counter()
    for _ in range(warmup):
        torch.matmul(a, b)
    one = max((time.perf_counter() - t0) / max(warmup, 1), 1e-6)
    inner = max(1, round(0.05 / one))
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            torch.matmul(a, b)
        rates.append(2 * n**3 * inner / (time.perf_counter() - t0) / 1e9)
    return {"n": n, "gflops": round(statistics.median(rates), 2), "gflops_best": round(max(rates), 2), "inner": inner, "reps": reps}


def measure_overhead(op, calls, samples):
    if op == "add":
        a, b = torch.tensor([1.0]), torch.tensor([2.0])
        f = torch.add
    elif op == "matmul":
        a, b = torch.tensor([[1.0]]), torch.tensor([[2.0]])
        f = torch.matmul
    else:
        raise ValueError(f"no PyTorch peer for op {op!r}")

    def sample():
        t0 = time.perf_counter()
        for _ in range(calls):
            f(a, b)
        return (time.perf_counter() - t0) / calls * 1e6

    sample()  # warm-up
    us = [sample() for _ in range(samples)]
    return {"us_per_call": round(statistics.median(us), 3), "us_min": round(min(us), 3), "calls": calls, "samples": samples}


def env(threads):
    """Fields every record carries (peer_train.py imports this too)."""
    cfg = torch.__config__.show()
    blas = "mkl" if "BLAS_INFO=mkl" in cfg else ("openblas" if "openblas" in cfg.lower() else "unknown")
    return {
        "device": "cpu",
        "threads": threads,
        "torch": torch.__version__,
        "blas": blas,
        "cpuCapability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
    }


def _jiffies():
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v) - v[3] - v[4]
    except OSError:
        return None


def load_probe():
    """As common.ts loadProbe: cores' worth of CPU other processes used until stop()."""
    j0, c0, t0 = _jiffies(), time.process_time(), time.perf_counter()

    def stop():
        j1 = _jiffies()
        if j0 is None or j1 is None:
            return None
        others = (j1 - j0) / os.sysconf("SC_CLK_TCK") - (time.process_time() - c0)
        return round(max(0.0, others) / (time.perf_counter() - t0), 2)

    return stop


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--trials", default=None, help="JSON list of trials (tensor.ts TRIALS)")
    ap.add_argument("--round", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    e = env(torch.get_num_threads())
    trials = json.loads(args.trials) if args.trials else DEFAULT_TRIALS
    for t in trials:
        probe = load_probe()
        if t["family"] == "matmul":
            res = measure_matmul(t["n"], t["warmup"], t["reps"])
        else:
            res = measure_overhead(t["op"], t["calls"], t["samples"])
        print(json.dumps({"bench": "tensor", "impl": "pytorch", "peer": "pytorch", "name": t["name"], "family": t["family"], "round": args.round, **res, "other_load": probe(), **e}), flush=True)


if __name__ == "__main__":
    main()
