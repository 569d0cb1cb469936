"""HF peer of scripts/bench/e2e/phases.ts: the same batches (the first
--batches of train.csv in file order, padded to each batch's longest by
DataCollatorWithPadding), timed phase by phase as Trainer runs them:
tokenize + collate, forward, backward, clip to 1.0 + fused AdamW (Trainer's
default), an evaluation forward under torch.no_grad, and one
save_pretrained. Prints one JSON line.
"""
import argparse
import csv
import json
import statistics
import tempfile
import time

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--train", required=True)
p.add_argument("--batches", type=int, default=30)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--max-length", type=int, default=64)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)

with open(a.train, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
names = sorted({r["label"] for r in rows})
tok = AutoTokenizer.from_pretrained(a.model)
collator = DataCollatorWithPadding(tok)
model = AutoModelForSequenceClassification.from_pretrained(a.model, num_labels=len(names))
# Trainer's default optimizer with this torch (adamw_torch_fused), all parameters decayed (HF excludes biases and LayerNorm; the cost is the same).
opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01, fused=True)

times = {k: [] for k in ["collate", "forward", "backward", "optimizer", "eval_forward"]}
lengths, real, padded = [], 0, 0
for i in range(a.batches):
    chunk = [rows[(i * a.batch_size + k) % len(rows)] for k in range(a.batch_size)]
    t0 = time.perf_counter()
    enc = tok([r["text"] for r in chunk], truncation=True, max_length=a.max_length)
    feats = [{"input_ids": enc["input_ids"][k], "attention_mask": enc["attention_mask"][k],
              "token_type_ids": enc["token_type_ids"][k], "labels": names.index(chunk[k]["label"])} for k in range(len(chunk))]
    batch = collator(feats)
    times["collate"].append(time.perf_counter() - t0)
    lengths.append(batch["input_ids"].shape[1])
    real += int(batch["attention_mask"].sum())
    padded += batch["attention_mask"].numel()
    model.train()
    t0 = time.perf_counter()
    loss = model(**batch).loss
    times["forward"].append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    loss.backward()
    times["backward"].append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    times["optimizer"].append(time.perf_counter() - t0)
    model.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        model(**batch)
    times["eval_forward"].append(time.perf_counter() - t0)
with tempfile.TemporaryDirectory() as d:
    t0 = time.perf_counter()
    model.save_pretrained(d)
    save_s = time.perf_counter() - t0

seen, repeat = set(), []
for n in lengths:
    repeat.append(n in seen)
    seen.add(n)
out = {"bench": "e2e-phases", "impl": "transformers", "threads": a.threads, "batches": a.batches, "batch_size": a.batch_size,
       "shapes": len(seen), "padding_share": round(1 - real / padded, 3)}
for k, v in times.items():
    rep = [x * 1e3 for x, r in zip(v, repeat) if r]
    first = [x * 1e3 for x, r in zip(v, repeat) if not r]
    out[f"{k}_ms"] = round(statistics.median(rep), 1) if rep else None
    out[f"{k}_first_use_ms"] = round(statistics.median(first), 1) if first else None
out["save_s"] = round(save_s, 2)
out["step_ms"] = round(sum(out[f"{k}_ms"] for k in ["collate", "forward", "backward", "optimizer"]), 1)
print(json.dumps(out))
