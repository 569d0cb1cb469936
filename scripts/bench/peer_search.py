#!/usr/bin/env python3
"""faiss-cpu peer of scripts/bench/search.ts (pip install faiss-cpu): IndexFlatIP
over the same vectors and queries with the same threads; with --write-only it
writes the seeded clustered, L2-normalised vectors both sides read."""
import argparse, json, os, platform, sys, time

# BLAS and OpenMP pools capped before numpy / faiss load them (--threads is read again below).
_t = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "2"
for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_k] = _t

import numpy as np

p = argparse.ArgumentParser()
for k in ("n", "dim", "queries", "k", "threads"):
    p.add_argument("--" + k, type=int)
p.add_argument("--data"); p.add_argument("--qdata"); p.add_argument("--write-only", action="store_true")
a = p.parse_args()


def clustered(n, d, rng, centers):
    out = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        c = centers[rng.integers(0, len(centers), e - s)]
        x = c + 0.35 * rng.standard_normal((e - s, d), dtype=np.float32)
        out[s:e] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


if a.write_only:
    rng = np.random.default_rng(15)
    centers = rng.standard_normal((1000, a.dim), dtype=np.float32) / np.sqrt(a.dim) * 4
    clustered(a.n, a.dim, rng, centers).tofile(a.data)
    clustered(a.queries, a.dim, rng, centers).tofile(a.qdata)
    raise SystemExit(0)

import faiss

faiss.omp_set_num_threads(a.threads)
x = np.fromfile(a.data, dtype=np.float32).reshape(-1, a.dim)
q = np.fromfile(a.qdata, dtype=np.float32).reshape(-1, a.dim)
t0 = time.perf_counter()
ix = faiss.IndexFlatIP(a.dim)
ix.add(x)
add_s = time.perf_counter() - t0
ix.search(q[:10], a.k)
best, ids = float("inf"), None
for _ in range(3):
    t = time.perf_counter()
    _, ids = ix.search(q, a.k)
    best = min(best, time.perf_counter() - t)
single = []
for r in range(20):
    t = time.perf_counter()
    ix.search(q[r % len(q): r % len(q) + 1], a.k)
    single.append(time.perf_counter() - t)
print(json.dumps({"bench": "search", "side": "faiss", "index": "IndexFlatIP", "n": a.n, "dim": a.dim, "queries": len(q), "k": a.k,
                  "add_s": round(add_s, 2), "batch_s": round(best, 3), "queries_s": round(len(q) / best, 1),
                  "single_ms": round(float(np.median(single)) * 1000, 2), "top1": [int(i) for i in ids[:5, 0]],
                  "threads": a.threads, "faiss": faiss.__version__, "python": platform.python_version()}))
