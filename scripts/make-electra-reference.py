#!/usr/bin/env python3
"""Regenerates the replaced-token-detection parity fixture with transformers' ElectraForPreTraining.

Writes, into --out (default test/fixtures/electra-parity):

    model.safetensors    ElectraForPreTraining's parameters, every one random (biases and
                         LayerNorms too, so a mis-loaded tensor shows); embedding_size ==
                         hidden_size, so there is no embeddings_project
    config.json          the ElectraConfig
    inputs.safetensors   input_ids (with tokens already replaced), attention_mask
                         (padded rows), token_type_ids, labels (float, 1 = replaced)
    golden.safetensors   logits (B, T), loss, and grad.<name> of every parameter
    README.md            what is in it, the float64 noise of each golden, the command

The goldens come from ElectraForPreTraining itself in eval mode (dropout off),
eager attention, float32, 1 torch thread; each is also recomputed in float64
and the README gives the difference, the noise a correct float32
implementation shows. bertorch's BertForReplacedTokenDetection takes the
weights as electra.<x> -> <x> (its discriminator is a BertModel) and
discriminator_predictions.* as they are.

    .venv/bin/python scripts/make-electra-reference.py
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import ElectraConfig, ElectraForPreTraining


def build(a):
    torch.manual_seed(a.seed)
    config = ElectraConfig(vocab_size=a.vocab, embedding_size=a.hidden, hidden_size=a.hidden,
                           num_hidden_layers=a.layers, num_attention_heads=a.heads,
                           intermediate_size=a.intermediate, max_position_embeddings=64,
                           hidden_act='gelu', pad_token_id=0, attn_implementation='eager')
    model = ElectraForPreTraining(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    return config, model


def make_inputs(a):
    g = torch.Generator().manual_seed(a.seed + 1)
    lengths = [int(x) for x in a.lengths.split(',')]
    B, T = len(lengths), a.seq
    ids = torch.randint(5, a.vocab, (B, T), generator=g)
    ids[:, 0] = 2  # [CLS]
    mask = torch.zeros(B, T, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        ids[i, n - 1] = 3  # [SEP]
        ids[i, n:] = 0
    types = torch.zeros(B, T, dtype=torch.long)
    types[:, T // 2:] = 1
    types = types * mask
    # About 15% of the real tokens replaced by a generator would be; which ones is random.
    labels = ((torch.rand(B, T, generator=g) < 0.15) & (mask == 1)).float()
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels)


def run(model, inputs, dtype):
    m = model.to(dtype)
    m.zero_grad()
    x = dict(inputs, labels=inputs['labels'].to(dtype))
    out = m(**x)
    out.loss.backward()
    golden = {'logits': out.logits.detach(), 'loss': out.loss.detach().reshape(())}
    for name, p in m.named_parameters():
        golden[f'grad.{name}'] = p.grad.detach().clone()
    return golden


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='test/fixtures/electra-parity')
    p.add_argument('--layers', type=int, default=2)
    p.add_argument('--hidden', type=int, default=32)
    p.add_argument('--heads', type=int, default=4)
    p.add_argument('--intermediate', type=int, default=64)
    p.add_argument('--vocab', type=int, default=120)
    p.add_argument('--seq', type=int, default=12)
    p.add_argument('--lengths', default='12,9,4')
    p.add_argument('--seed', type=int, default=20261206)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    config, model = build(a)
    inputs = make_inputs(a)
    golden = run(model, inputs, torch.float32)
    model64 = ElectraForPreTraining(config).eval()
    model64.load_state_dict(model.state_dict())
    golden64 = run(model64.double(), inputs, torch.float64)
    model.float()
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / 'model.safetensors'), metadata={'format': 'pt'})
    save_file(inputs, str(out / 'inputs.safetensors'))
    save_file({k: v.float().contiguous() for k, v in golden.items()}, str(out / 'golden.safetensors'))
    config.to_json_file(str(out / 'config.json'))
    for f, d in [('model.safetensors', state), ('inputs.safetensors', inputs), ('golden.safetensors', golden)]:
        back = load_file(str(out / f))
        assert all(torch.equal(back[k], v.float() if f == 'golden.safetensors' else v) for k, v in d.items()), f
    noise = {k: (golden[k].double() - golden64[k]).abs().max().item() for k in golden}
    worst = sorted(noise.items(), key=lambda kv: -kv[1])[:5]
    cmd = '.venv/bin/python scripts/make-electra-reference.py ' + shlex.join(argv)
    readme = [
        '# electra-parity', '',
        f'Made by `{cmd.strip()}` with torch {torch.__version__}, transformers {transformers.__version__}.', '',
        'ElectraForPreTraining (eval, eager attention, float32, 1 thread) with random parameters;',
        f'{a.layers} layers, hidden {a.hidden}, {a.heads} heads, intermediate {a.intermediate}, vocab {a.vocab};',
        f'batch of lengths {a.lengths} padded to {a.seq}; labels: 1 where the token counts as replaced.', '',
        'float32 vs float64 (the noise a correct float32 implementation shows):', '',
        f'- logits {noise["logits"]:.3g}, loss {noise["loss"]:.3g}',
        *[f'- {k} {v:.3g}' for k, v in worst], '',
    ]
    (out / 'README.md').write_text('\n'.join(readme))
    print(json.dumps({'out': str(out), 'loss': golden['loss'].item(), 'noise_logits': noise['logits'], 'noise_loss': noise['loss']}))


if __name__ == '__main__':
    main(sys.argv[1:])
