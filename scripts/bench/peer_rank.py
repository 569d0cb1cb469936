"""HuggingFace peer of scripts/bench/rank.ts: scores the same (context, item) pairs with
the same cross-encoder folder, on the same threads.

    python scripts/bench/peer_rank.py --model <dir> --pairs <pairs.json> --threads N --batch 64 --max-length 128 --reps 3

Two ways a Python user scores pairs, each timed end to end from strings:
- sentence-transformers CrossEncoder.predict (sorts by length, tokenizes and runs batches);
- plain transformers: AutoTokenizer(contexts, items, padding=True, truncation=True) +
  AutoModelForSequenceClassification (sdpa) under torch.inference_mode(), in input order.
One JSON line each: pairs/s (median of reps after a warm-up pass).
"""
import argparse
import json
import statistics
import time

import torch
from sentence_transformers import CrossEncoder
from transformers import AutoModelForSequenceClassification, AutoTokenizer

p = argparse.ArgumentParser()
p.add_argument('--model', required=True)
p.add_argument('--pairs', required=True)
p.add_argument('--threads', type=int, required=True)
p.add_argument('--batch', type=int, default=64)
p.add_argument('--max-length', type=int, default=128)
p.add_argument('--reps', type=int, default=3)
a = p.parse_args()
torch.set_num_threads(a.threads)
pairs = [tuple(x) for x in json.load(open(a.pairs))]


def timed(fn):
    fn(pairs[: a.batch * 2])  # warm-up
    rates = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        fn(pairs)
        rates.append(len(pairs) / (time.perf_counter() - t0))
    return round(statistics.median(rates), 1), round(max(rates), 1)


ce = CrossEncoder(a.model, max_length=a.max_length, device='cpu')
ce.model.eval()
med, best = timed(lambda ps: ce.predict(ps, batch_size=a.batch, show_progress_bar=False))
print(json.dumps({'bench': 'rank', 'impl': 'sentence-transformers CrossEncoder.predict', 'pairsPerSecond': med, 'best': best,
                  'threads': torch.get_num_threads(), 'torch': torch.__version__}), flush=True)

tok = AutoTokenizer.from_pretrained(a.model)
model = AutoModelForSequenceClassification.from_pretrained(a.model, attn_implementation='sdpa').eval()


def plain(ps):
    out = []
    for i in range(0, len(ps), a.batch):
        chunk = ps[i:i + a.batch]
        enc = tok([c for c, _ in chunk], [x for _, x in chunk], padding=True, truncation=True, max_length=a.max_length, return_tensors='pt')
        with torch.inference_mode():
            logits = model(**enc).logits
        out.append((logits[:, 1] - logits[:, 0]).numpy())
    return out


med, best = timed(plain)
print(json.dumps({'bench': 'rank', 'impl': 'transformers (tokenizer + model, input order)', 'pairsPerSecond': med, 'best': best,
                  'threads': torch.get_num_threads(), 'torch': torch.__version__}), flush=True)
