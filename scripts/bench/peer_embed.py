#!/usr/bin/env python3
"""sentence-transformers peer of scripts/bench/embed.ts: SentenceTransformer.encode
on the same texts, batch and threads; sentences/s, best of --reps after a warm-up."""
import argparse, json, os, platform, time

import torch
import sentence_transformers
from sentence_transformers import SentenceTransformer

p = argparse.ArgumentParser()
p.add_argument("--file"); p.add_argument("--model"); p.add_argument("--batch", type=int, default=64)
p.add_argument("--threads", type=int, default=2); p.add_argument("--reps", type=int, default=3)
a = p.parse_args()
torch.set_num_threads(a.threads)
texts = [l for l in open(a.file, encoding="utf-8").read().split("\n") if l]
m = SentenceTransformer(a.model, device="cpu")
m.encode(texts[: a.batch * 2], batch_size=a.batch)
best = float("inf")
for _ in range(a.reps):
    t0 = time.perf_counter()
    m.encode(texts, batch_size=a.batch)
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"bench": "embed", "side": "sentence-transformers", "texts": len(texts), "batch": a.batch,
                  "sentences_s": round(len(texts) / best, 1), "seconds": round(best, 3), "threads": a.threads,
                  "torch": torch.__version__, "sentence_transformers": sentence_transformers.__version__, "python": platform.python_version()}))
