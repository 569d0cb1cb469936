"""bench/lift's cross-check: fine-tune a pretrained folder in HF transformers instead of bertorch.

    python scripts/bench/lift/hf_finetune.py --model DIR --data bench-out/lift-vader/data
        [--labels 500] [--lr 3e-4] [--seeds 42,43,44] [--pooling cls|mean] [--reinit 0]

Same settings as bench/lift's `bertorch finetune` (3 epochs, batch 32, AdamW
with weight decay 0.01, 10% warmup then linear decay, 64 tokens, one thread),
scored on the same eval.csv. It tells whether a recipe's number belongs to the
pretrained weights or to bertorch's fine-tuning, and what the encoder holds
apart from [CLS]:
  --pooling cls   BertModel's pooler over [CLS], as BertForSequenceClassification
  --pooling mean  the mean of the last layer over real tokens (no pooler)
  --reinit N      re-initialise the top N layers (and the pooler) first (Zhang et al. 2021)
Prints one JSON line per seed: {"model", "pooling", "reinit", "lr", "labels", "seed", "accuracy"}.
"""
import argparse
import csv
import json
import os
import random

import numpy as np
import torch
from transformers import BertModel, BertTokenizerFast


def read(path):
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def run(a, seed):
    tx, ty = read(os.path.join(a.data, f"train-{a.labels}.csv"))
    ex, ey = read(os.path.join(a.data, "eval.csv"))
    names = sorted(set(ty))
    ids = {n: i for i, n in enumerate(names)}
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    tok = BertTokenizerFast.from_pretrained(a.model)
    model = BertModel.from_pretrained(a.model, add_pooling_layer=a.pooling == "cls")
    if a.reinit:
        for layer in model.encoder.layer[-a.reinit:]:
            layer.apply(model._init_weights)
        if model.pooler is not None:
            model.pooler.apply(model._init_weights)
    head = torch.nn.Linear(model.config.hidden_size, len(names))
    head.weight.data.normal_(0, model.config.initializer_range)
    head.bias.data.zero_()
    drop = torch.nn.Dropout(model.config.hidden_dropout_prob)

    def logits(texts):
        x = tok(texts, truncation=True, max_length=64, padding=True, return_tensors="pt")
        out = model(**x)
        if a.pooling == "cls":
            z = out.pooler_output
        else:
            m = x["attention_mask"].unsqueeze(-1).float()
            z = (out.last_hidden_state * m).sum(1) / m.sum(1)
        return head(drop(z))

    opt = torch.optim.AdamW(list(model.parameters()) + list(head.parameters()), lr=a.lr, weight_decay=0.01)
    steps = 3 * ((len(tx) + 31) // 32)
    warm = max(1, int(0.1 * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: s / warm if s < warm else max(0.0, (steps - s) / (steps - warm)))
    model.train()
    drop.train()
    for _ in range(3):
        order = np.random.permutation(len(tx))
        for i in range(0, len(tx), 32):
            b = order[i:i + 32]
            loss = torch.nn.functional.cross_entropy(logits([tx[j] for j in b]), torch.tensor([ids[ty[j]] for j in b]))
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
    model.eval()
    drop.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(ex), 128):
            pred = logits(ex[i:i + 128]).argmax(-1).tolist()
            correct += sum(p == ids[y] for p, y in zip(pred, ey[i:i + 128]))
    return correct / len(ex)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--labels", type=int, default=500)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seeds", default="42,43,44")
    ap.add_argument("--pooling", choices=["cls", "mean"], default="cls")
    ap.add_argument("--reinit", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for seed in map(int, a.seeds.split(",")):
        acc = run(a, seed)
        print(json.dumps({"model": os.path.basename(os.path.normpath(a.model)), "pooling": a.pooling, "reinit": a.reinit,
                          "lr": a.lr, "labels": a.labels, "seed": seed, "accuracy": round(acc, 4)}), flush=True)


if __name__ == "__main__":
    main()
