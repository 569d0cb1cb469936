"""PyTorch peer of scripts/bench/infer.ts: one inference trial through HF transformers.

    python scripts/bench/peer_infer.py --trial '<JSON InferTrial>' --threads N

BertForSequenceClassification with attn_implementation='sdpa', eval mode,
torch.inference_mode(), logits copied to the host as numpy; bf16 trials run
under torch.autocast on the trial's device (cpu, or cuda with --device cuda). The same synthetic batch as infer.ts (common.ts
makeBatch, seed 2000). Prints one raw JSON line, summarised as infer.ts does.
"""
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from transformers import BertForSequenceClassification  # noqa: E402

from peer_tensor import env, load_probe  # noqa: E402
from peer_train import bert_config, make_batch, read_trial  # noqa: E402

WARMUP = 3


def summarise(ms, batch):
    s = sorted(ms)
    pct = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
    mean = sum(ms) / len(ms)
    return {"calls": len(ms), "p50_ms": round(pct(0.5), 2), "p99_ms": round(pct(0.99), 2), "seq_s": round(batch * 1000 / mean, 1)}


def main():
    t = read_trial("InferTrial from infer.ts")
    d = t["dims"]
    device = t.get("device", "cpu")
    model = BertForSequenceClassification._from_config(bert_config(d), attn_implementation="sdpa").eval().to(device)
    b = make_batch("seqcls", t["batch"], t["seq"], d["vocab"], 2000)
    # The batch starts on the host each call, as ours does (a service's inputs arrive there).
    inputs = {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    bf16 = bool(t["bf16"])

    def call():
        with torch.inference_mode(), torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            dev = {k: v.to(device, non_blocking=True) for k, v in inputs.items()}
            return model(**dev).logits.float().cpu().numpy()

    for _ in range(WARMUP):
        call()
    probe = load_probe()
    ms = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < t["seconds"] or len(ms) < 5:
        s = time.perf_counter()
        call()
        ms.append((time.perf_counter() - s) * 1e3)
    print(json.dumps({
        "bench": "infer", "impl": "pytorch", "peer": "pytorch", "model": t["model"], "batch": t["batch"], "seq": t["seq"],
        "precision": "bf16 autocast" if bf16 else "float32", "device": device, **summarise(ms, t["batch"]),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "other_load": probe(), "attn_implementation": model.config._attn_implementation, **env(torch.get_num_threads()),
    }), flush=True)


if __name__ == "__main__":
    main()
