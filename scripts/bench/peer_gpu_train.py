"""HF transformers + PyTorch peer of gpu-train.ts: same model, batch, precision
(bf16 autocast), SDPA attention and fused AdamW. Prints one JSON line."""
import argparse, json, time
import torch
from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification

PRESETS = {
    'mini': dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
    'small': dict(num_hidden_layers=4, hidden_size=512, num_attention_heads=8, intermediate_size=2048),
    'base': dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
    'thin': dict(num_hidden_layers=12, hidden_size=48, num_attention_heads=12, intermediate_size=192),
}
p = argparse.ArgumentParser()
for k, d in [('task', 'seqcls'), ('model', 'base'), ('dtype', 'bfloat16')]:
    p.add_argument('--' + k, default=d)
for k, d in [('batch', 64), ('seq', 128), ('steps', 30)]:
    p.add_argument('--' + k, type=int, default=d)
p.add_argument('--rate', type=float, default=0)
p.add_argument('--profile', action='store_true')
a = p.parse_args()
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
V, B, T = 30522, a.batch, a.seq
cfg = BertConfig(vocab_size=V, **PRESETS[a.model])
cls = BertForMaskedLM if a.task == 'mlm' else BertForSequenceClassification
m = cls._from_config(cfg, attn_implementation='sdpa')
m = m.to(dev).train()
opt = torch.optim.AdamW(m.parameters(), lr=1e-4, fused=(dev == 'cuda'))
g = torch.Generator().manual_seed(1)
ids = torch.randint(5, V, (B, T), generator=g).to(dev)
mask = torch.ones(B, T, dtype=torch.long, device=dev)
if a.task == 'mlm':
    labels = torch.where(torch.rand(B, T, generator=g).to(dev) < 0.15, ids, torch.full_like(ids, -100))
else:
    labels = torch.randint(0, 2, (B,), generator=g).to(dev)
amp = a.dtype != 'float32'
dt = getattr(torch, a.dtype)

def step():
    with torch.autocast(dev, dtype=dt, enabled=amp):
        loss = m(input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()  # bertorch returns the loss each step too

for _ in range(5):
    step()
if dev == 'cuda':
    torch.cuda.synchronize()
t0 = time.perf_counter()
for _ in range(a.steps):
    loss = step()
if dev == 'cuda':
    torch.cuda.synchronize()
ms = (time.perf_counter() - t0) / a.steps * 1000
H, L = cfg.hidden_size, cfg.num_hidden_layers
out = dict(bench='gpu-train', side='hf', model=a.model, task=a.task, device=dev, dtype=a.dtype, batch=B, seq=T,
           msPerStep=round(ms, 2), seqPerS=round(B / (ms / 1000), 1), tokPerS=round(B * T / (ms / 1000)), loss=loss,
           torch=torch.__version__)
print(json.dumps(out))

if a.profile:
    # The same table as bertorch's profile(): kernels by total device time.
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev == 'cuda' else [])
    n = 5
    t0 = time.perf_counter()
    with profile(activities=acts) as prof:
        for _ in range(n):
            step()
        if dev == 'cuda':
            torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) * 1000
    kern, busy = {}, 0.0
    for e in prof.profiler.kineto_results.events():
        # GPU-side user annotations (Optimizer.step#AdamW.step ...) span the
        # kernels they cover: counting them would count those kernels twice.
        if e.device_type() != torch.autograd.DeviceType.CUDA or getattr(e, 'is_user_annotation', lambda: False)():
            continue
        ms_ = e.duration_ns() / 1e6
        busy += ms_
        c, t = kern.get(e.name(), (0, 0.0))
        kern[e.name()] = (c + 1, t + ms_)
    top = sorted(kern.items(), key=lambda kv: -kv[1][1])[:15]
    print(json.dumps(dict(bench='gpu-profile', side='hf', task=a.task, steps=n, wallMsPerStep=round(wall / n, 2),
                          deviceBusyMsPerStep=round(busy / n, 2),
                          kernels=[dict(name=k[:90], count=c / n, msPerStep=round(t / n, 3)) for k, (c, t) in top])))
