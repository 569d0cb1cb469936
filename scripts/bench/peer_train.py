"""PyTorch peer of scripts/bench/train.ts: one training trial through HF transformers.

    python scripts/bench/peer_train.py --trial '<JSON TrainTrial>' --threads N

BertForSequenceClassification / BertForMaskedLM with attn_implementation='sdpa',
train mode (dropout on), torch.optim.AdamW(fused=True) as HF Trainer's
default (no decay on biases and LayerNorm, as bertorch's configureOptimizer),
grad-norm clipping at 1.0, the same
synthetic batches as common.ts makeBatch (same PRNG, same seeds). Prints one
raw JSON line (peer: 'pytorch'); train.ts adds FLOPs, MFU and ratios.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification  # noqa: E402

from peer_tensor import env, load_probe  # noqa: E402

MASK_ID = 103
MLM_PROB = 0.15
NUM_LABELS = 2
NUM_BATCHES = 4
OPT = {"lr": 5e-5, "weight_decay": 0.01, "max_grad_norm": 1.0}


def mulberry32(seed):
    """Bit for bit common.ts mulberry32: [0, 1) floats."""
    a = seed & 0xFFFFFFFF

    def rnd():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & 0xFFFFFFFF
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return rnd


def make_batch(task, B, T, vocab, seed):
    """common.ts makeBatch, the same draws in the same order."""
    rnd = mulberry32(seed)
    n = B * T
    ids = [1000 + int(rnd() * (vocab - 1000)) for _ in range(n)]
    if task == "seqcls":
        labels = torch.tensor([0 if rnd() < 0.5 else 1 for _ in range(B)], dtype=torch.long)
    else:
        lab = [-100] * n
        for i in range(n):
            if rnd() < MLM_PROB:
                lab[i] = ids[i]
                ids[i] = MASK_ID
        labels = torch.tensor(lab, dtype=torch.long).view(B, T)
    return {
        "input_ids": torch.tensor(ids, dtype=torch.long).view(B, T),
        "attention_mask": torch.ones(B, T, dtype=torch.long),
        "token_type_ids": torch.zeros(B, T, dtype=torch.long),
        "labels": labels,
    }


def rss_mb():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return None


def read_trial(what):
    """--trial JSON and --threads from the command line; sets threads and the seed (peer_infer.py too)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--trial", required=True, help=f"JSON {what}")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return json.loads(args.trial)


def bert_config(d):
    """The BertConfig of a trial's dims (common.ts ModelDims)."""
    return BertConfig(
        vocab_size=d["vocab"], hidden_size=d["hidden"], num_hidden_layers=d["layers"],
        num_attention_heads=d["heads"], intermediate_size=d["intermediate"], num_labels=NUM_LABELS,
    )


def main():
    t = read_trial("TrainTrial from train.ts")
    d = t["dims"]
    rss_base = rss_mb()
    cfg = bert_config(d)
    cls = BertForMaskedLM if t["task"] == "mlm" else BertForSequenceClassification
    model = cls._from_config(cfg, attn_implementation="sdpa")
    assert model.config._attn_implementation == "sdpa", model.config._attn_implementation
    model.train()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if ("bias" in name or "LayerNorm" in name) else decay).append(p)
    # HF Trainer's default optimizer with torch >= 2.8 is adamw_torch_fused, on CPU too.
    fused = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 4)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": OPT["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=OPT["lr"], fused=fused or None,
    )
    batches = [make_batch(t["task"], t["batch"], t["seq"], d["vocab"], 1000 + i) for i in range(NUM_BATCHES)]

    bf16 = bool(t.get("bf16"))

    def step(b):
        # bf16: torch.autocast on CPU around forward and loss, as bertorch's autocast('bfloat16').
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(**b)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), OPT["max_grad_norm"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out.loss.item()

    losses = [step(batches[i % NUM_BATCHES]) for i in range(t["warmup"])]
    probe = load_probe()
    ms = []
    for i in range(t["steps"]):
        t0 = time.perf_counter()
        losses.append(step(batches[(t["warmup"] + i) % NUM_BATCHES]))
        ms.append((time.perf_counter() - t0) * 1e3)
    other = probe()
    print(json.dumps({
        "bench": "train", "impl": "pytorch", "peer": "pytorch", "model": t["model"], "task": t["task"],
        "precision": "bf16 autocast" if bf16 else "float32",
        "batch": t["batch"], "seq": t["seq"], "warmup": t["warmup"], "steps": t["steps"],
        "ms_step": round(statistics.median(ms), 1), "ms_steps": [round(x, 1) for x in ms],
        "params": sum(p.numel() for p in model.parameters()),
        "loss_first": round(losses[0], 4), "loss_last": round(losses[-1], 4),
        "rss_base_mb": round(rss_base, 1) if rss_base is not None else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "other_load": other, "attn_implementation": model.config._attn_implementation,
        "optimizer": "AdamW fused" if fused else "AdamW for-loop",
        **env(torch.get_num_threads()),
    }), flush=True)


if __name__ == "__main__":
    main()
