#!/usr/bin/env python3
"""Regenerates a BERT parity fixture with HuggingFace transformers.

Writes, into --out, the layout of test/fixtures/bert-tiny-parity:

    checkpoint/{config.json, vocab.txt, model.safetensors}   (BertForPreTraining, save_pretrained)
    inputs.safetensors        input_ids, attention_mask, token_type_ids, mlm/seqcls/tokcls labels
    seqcls_head.safetensors   classifier.{weight,bias} of BertForSequenceClassification
    tokcls_head.safetensors   classifier.{weight,bias} of BertForTokenClassification
    golden_bert.safetensors   last_hidden_state, pooler_output, hidden_states.<i>, attentions.<i>
    golden_mlm.safetensors    logits, loss, grad_l2norm/grad_sum.<param>, grad.cls.predictions.bias
    golden_seqcls.safetensors logits, loss, grad.<param> for every BertForSequenceClassification parameter
    golden_tokcls.safetensors logits, loss
    golden_adamw.safetensors  loss_before_step1, step1.<param>, loss_before_step2, step2.<param>, loss_after_step2
    README.md                 what is in it, float64 noise of every tensor, and the command that made it

Every parameter is random (not HF's init: biases, LayerNorm and the [PAD] row
too) so a mis-loaded tensor shows. The goldens come from HF's own classes
loaded with from_pretrained(checkpoint), eager attention, eval mode (dropout
off), float32, 1 torch thread. Each golden is also recomputed in float64 and
the README lists the difference, the noise a correct float32 implementation
shows. Every file is read back and compared bit for bit.

    .venv/bin/python scripts/make-reference.py --out test/fixtures/bert-parity-2 \\
        --layers 3 --hidden 48 --heads 4 --intermediate 96 --act gelu_new \\
        --seq 40 --lengths 40,23,7,1 --vocab 300 --max-position 64 --seed 20240602

`--preset bert-parity-2` is that command.
"""

import argparse
import copy
import hashlib
import json
import math
import os
import shlex
import sys
from pathlib import Path

import torch
import safetensors
import transformers
from safetensors.torch import load_file, save_file
from transformers import (BertConfig, BertForMaskedLM, BertForPreTraining, BertForSequenceClassification,
                          BertForTokenClassification, BertModel)

PRESETS = {
    'bert-parity-2': dict(out='test/fixtures/bert-parity-2', layers=3, hidden=48, heads=4, intermediate=96,
                          act='gelu_new', seq=40, lengths='40,23,7,1', vocab=300, max_position=64, seed=20240602),
}
SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
PAD, UNK, CLS, SEP, MASK = range(5)
SEQCLS_LABELS, TOKCLS_LABELS = 3, 5
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False, foreach=False)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--preset', choices=sorted(PRESETS), help='a named fixture (its settings; other flags override)')
    p.add_argument('--out', help='output folder (replaced files only; created if absent)')
    p.add_argument('--layers', type=int)
    p.add_argument('--hidden', type=int)
    p.add_argument('--heads', type=int)
    p.add_argument('--intermediate', type=int)
    p.add_argument('--act', choices=['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'tanh'])
    p.add_argument('--seq', type=int, help='sequence length S (columns of every input)')
    p.add_argument('--lengths', help='comma-separated real lengths per row (batch = their count); default S,2S/3,S/3')
    p.add_argument('--vocab', type=int)
    p.add_argument('--max-position', type=int)
    p.add_argument('--seed', type=int)
    a = p.parse_args(argv)
    defaults = dict(layers=2, hidden=32, heads=4, intermediate=64, act='gelu', seq=16, lengths=None, vocab=256,
                    max_position=64, seed=20240601)
    if a.preset:
        defaults.update(PRESETS[a.preset])
    for k, v in defaults.items():
        if getattr(a, k, None) is None:
            setattr(a, k, v)
    if not a.out:
        p.error('--out is required (or --preset)')
    a.lengths = [int(x) for x in a.lengths.split(',')] if a.lengths else [a.seq, max(1, 2 * a.seq // 3), max(1, a.seq // 3)]
    if a.hidden % a.heads:
        p.error(f'--hidden {a.hidden} is not a multiple of --heads {a.heads}')
    if a.seq > a.max_position:
        p.error('--seq exceeds --max-position')
    if any(not 1 <= n <= a.seq for n in a.lengths):
        p.error('every length must be in [1, seq]')
    if a.vocab < 40:
        p.error('--vocab must be at least 40')
    return a


def command_line(a):
    parts = ['.venv/bin/python', 'scripts/make-reference.py', '--out', a.out, '--layers', a.layers, '--hidden', a.hidden,
             '--heads', a.heads, '--intermediate', a.intermediate, '--act', a.act, '--seq', a.seq,
             '--lengths', ','.join(map(str, a.lengths)), '--vocab', a.vocab, '--max-position', a.max_position,
             '--seed', a.seed]
    return ' '.join(shlex.quote(str(x)) for x in parts)


def make_vocab(n, g):
    """[PAD] [UNK] [CLS] [SEP] [MASK], then made-up `<syllables>x` words and `##<syllables>q` pieces."""
    syl = [c + v for c in 'bdgkmnpstz' for v in 'aeiou']
    combos = [a + b for a in syl for b in syl]
    order = torch.randperm(len(combos), generator=g).tolist()
    words = []
    for i, j in enumerate(order[: n - len(SPECIALS)]):
        words.append(combos[j] + 'x' if i % 2 == 0 else '##' + combos[j] + 'q')
    return SPECIALS + words


def randn(g, *shape, std=1.0):
    return torch.randn(*shape, generator=g, dtype=torch.float32) * std


def random_value(name, shape, g):
    """Random, not HF init: weights ~ N(0, 1/fan_in) so activations stay O(1) and attention is peaked."""
    if name.endswith('LayerNorm.weight'):
        return 1.0 + randn(g, *shape, std=0.2)
    if 'word_embeddings' in name:  # also the tied MLM decoder: keep logits O(1)
        return randn(g, *shape, std=0.1)
    if 'embeddings' in name:
        return randn(g, *shape, std=0.3)
    if len(shape) == 1:
        return randn(g, *shape, std=0.2)
    return randn(g, *shape, std=1.0 / math.sqrt(shape[1]))


def make_inputs(a, g):
    B, S, V = len(a.lengths), a.seq, a.vocab
    ids = torch.zeros(B, S, dtype=torch.int64)
    mask = torch.zeros(B, S, dtype=torch.int64)
    types = torch.zeros(B, S, dtype=torch.int64)
    word = lambda n: torch.randint(len(SPECIALS), V, (n,), generator=g)
    content = []  # (row, col) positions eligible for MLM
    for r, L in enumerate(a.lengths):
        mask[r, :L] = 1
        ids[r, 0] = CLS
        if L >= 12:  # [CLS] a.. [SEP] b.. [SEP]
            na = (L - 3) // 2
            nb = L - 3 - na
            ids[r, 1:1 + na] = word(na)
            ids[r, 1 + na] = SEP
            ids[r, 2 + na:2 + na + nb] = word(nb)
            ids[r, L - 1] = SEP
            types[r, 2 + na:L] = 1
            content += [(r, c) for c in list(range(1, 1 + na)) + list(range(2 + na, 2 + na + nb))]
        elif L >= 2:  # [CLS] a.. [SEP]
            ids[r, 1:L - 1] = word(L - 2)
            ids[r, L - 1] = SEP
            content += [(r, c) for c in range(1, L - 1)]
    # MLM: 15% of the content positions (at least one per row that has content), 80/10/10 with each kind present.
    chosen = set()
    for r in range(B):
        row = [p for p in content if p[0] == r]
        if not row:
            continue
        k = max(1, round(0.15 * len(row)))
        perm = torch.randperm(len(row), generator=g)[:k].tolist()
        chosen.update(row[i] for i in perm)
    chosen = sorted(chosen)
    kinds = ['mask'] * len(chosen)
    u = torch.rand(len(chosen), generator=g).tolist()
    for i, x in enumerate(u):
        kinds[i] = 'mask' if x < 0.8 else ('random' if x < 0.9 else 'keep')
    if len(chosen) >= 3:
        if 'random' not in kinds:
            kinds[1] = 'random'
        if 'keep' not in kinds:
            kinds[-1] = 'keep'
    mlm_labels = torch.full((B, S), -100, dtype=torch.int64)
    for (r, c), kind in zip(chosen, kinds):
        orig = int(ids[r, c])
        mlm_labels[r, c] = orig
        if kind == 'mask':
            ids[r, c] = MASK
        elif kind == 'random':
            new = orig
            while new == orig:
                new = int(word(1))
            ids[r, c] = new
    seqcls_labels = torch.randint(0, SEQCLS_LABELS, (B,), generator=g)
    tokcls_labels = torch.randint(0, TOKCLS_LABELS, (B, S), generator=g)
    tokcls_labels[mask == 0] = -100
    tokcls_labels[0, 0] = -100
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=types, mlm_labels=mlm_labels,
                seqcls_labels=seqcls_labels, tokcls_labels=tokcls_labels), list(zip(chosen, kinds))


def load(cls, ckpt, **kw):
    m = cls.from_pretrained(ckpt, attn_implementation='eager', torch_dtype=torch.float32, **kw)
    return m.eval()


def set_head(model, head):
    with torch.no_grad():
        for k, v in head.items():
            model.get_parameter(k).copy_(v)


def fwd(model, inp, labels_key=None, **kw):
    args = dict(input_ids=inp['input_ids'], attention_mask=inp['attention_mask'], token_type_ids=inp['token_type_ids'])
    if labels_key:
        args['labels'] = inp[labels_key]
    return model(**args, **kw)


def f32(t):
    return t.detach().to(torch.float32).clone().contiguous()


def goldens(models, inp, double):
    """Every golden tensor, from float32 models (or their float64 copies)."""
    out = {}
    dt = torch.float64 if double else torch.float32
    conv = (lambda m: copy.deepcopy(m).to(dt)) if double else (lambda m: m)

    bert = conv(models['bert'])
    with torch.no_grad():
        o = fwd(bert, inp, output_hidden_states=True, output_attentions=True)
    g = {'last_hidden_state': o.last_hidden_state, 'pooler_output': o.pooler_output}
    for i, h in enumerate(o.hidden_states):
        g[f'hidden_states.{i}'] = h
    for i, h in enumerate(o.attentions):
        g[f'attentions.{i}'] = h
    out['golden_bert'] = g

    mlm = conv(models['mlm'])
    mlm.zero_grad(set_to_none=True)
    o = fwd(mlm, inp, 'mlm_labels')
    o.loss.backward()
    g = {'logits': o.logits, 'loss': o.loss}
    for n, p in mlm.named_parameters():
        g[f'grad_l2norm.{n}'] = p.grad.double().norm()
        g[f'grad_sum.{n}'] = p.grad.double().sum()
    g['grad.cls.predictions.bias'] = mlm.cls.predictions.bias.grad
    out['golden_mlm'] = g

    sc = conv(models['seqcls'])
    sc.zero_grad(set_to_none=True)
    o = fwd(sc, inp, 'seqcls_labels')
    o.loss.backward()
    g = {'logits': o.logits, 'loss': o.loss}
    for n, p in sc.named_parameters():
        g[f'grad.{n}'] = p.grad
    out['golden_seqcls'] = g

    tc = conv(models['tokcls'])
    with torch.no_grad():
        o = fwd(tc, inp, 'tokcls_labels')
    out['golden_tokcls'] = {'logits': o.logits, 'loss': o.loss}

    sc = copy.deepcopy(models['seqcls']).to(dt)  # fresh copy: AdamW changes it
    opt = torch.optim.AdamW(sc.parameters(), **ADAMW)
    g = {}
    for step in (1, 2):
        opt.zero_grad(set_to_none=True)
        o = fwd(sc, inp, 'seqcls_labels')
        g[f'loss_before_step{step}'] = o.loss
        o.loss.backward()
        opt.step()
        for n, p in sc.named_parameters():
            g[f'step{step}.{n}'] = p.detach().clone()  # p changes in place at the next step
    with torch.no_grad():
        g['loss_after_step2'] = fwd(sc, inp, 'seqcls_labels').loss
    out['golden_adamw'] = g
    return {f: {k: f32(v) for k, v in d.items()} for f, d in out.items()}


def isolated_adamw(model, gold):
    """One AdamW step from the starting weights with golden_seqcls grad.* as the gradients, vs step1.*."""
    m = copy.deepcopy(model)
    for n, p in m.named_parameters():
        p.grad = gold['golden_seqcls'][f'grad.{n}'].clone()
    torch.optim.AdamW(m.parameters(), **ADAMW).step()
    return max((p.detach() - gold['golden_adamw'][f'step1.{n}']).abs().max().item() for n, p in m.named_parameters())


def save(path, tensors, written):
    tensors = {k: v.detach().clone().contiguous() for k, v in tensors.items()}
    save_file(tensors, str(path), metadata={'format': 'pt'})
    os.chmod(path, 0o644)
    written[path] = tensors


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dtype_name(t):
    return {torch.float32: 'F32', torch.int64: 'I64'}[t.dtype]


def table(tensors, noise=None):
    head = '| name | shape | dtype |' + (' max abs diff vs float64 |' if noise else '')
    rule = '|---|---|---|' + ('---|' if noise else '')
    rows = [head, rule]
    for k, v in tensors.items():
        row = f'| `{k}` | {list(v.shape)} | {dtype_name(v)} |'
        if noise:
            row += f' {noise[k]:.2e} |'
        rows.append(row)
    return '\n'.join(rows)


def row_text(ids, vocab):
    return ' '.join(vocab[i] for i in ids)


def main(argv):
    a = parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)  # HF init of the heads is overwritten; this only makes any leftover randomness fixed
    transformers.logging.set_verbosity_error()
    out = Path(a.out)
    ckpt = out / 'checkpoint'
    ckpt.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(a.seed)

    config = BertConfig(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                        intermediate_size=a.intermediate, max_position_embeddings=a.max_position, type_vocab_size=2,
                        hidden_act=a.act, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                        layer_norm_eps=1e-12, initializer_range=0.02, pad_token_id=PAD,
                        position_embedding_type='absolute')
    vocab = make_vocab(a.vocab, g)
    (ckpt / 'vocab.txt').write_text('\n'.join(vocab) + '\n')

    pre = BertForPreTraining(config).eval()
    with torch.no_grad():
        for n, p in pre.named_parameters():  # tied aliases appear once
            p.copy_(random_value(n, tuple(p.shape), g))
    pre.save_pretrained(ckpt, safe_serialization=True)
    os.chmod(ckpt / 'model.safetensors', 0o644)
    stored = load_file(str(ckpt / 'model.safetensors'))
    for n, p in pre.named_parameters():
        assert torch.equal(stored[n], p.detach()), n

    heads = {
        'seqcls': {'classifier.weight': random_value('classifier.weight', (SEQCLS_LABELS, a.hidden), g),
                   'classifier.bias': random_value('classifier.bias', (SEQCLS_LABELS,), g)},
        'tokcls': {'classifier.weight': random_value('classifier.weight', (TOKCLS_LABELS, a.hidden), g),
                   'classifier.bias': random_value('classifier.bias', (TOKCLS_LABELS,), g)},
    }
    inp, corruption = make_inputs(a, g)

    models = {'bert': load(BertModel, ckpt), 'mlm': load(BertForMaskedLM, ckpt),
              'seqcls': load(BertForSequenceClassification, ckpt, num_labels=SEQCLS_LABELS),
              'tokcls': load(BertForTokenClassification, ckpt, num_labels=TOKCLS_LABELS)}
    set_head(models['seqcls'], heads['seqcls'])
    set_head(models['tokcls'], heads['tokcls'])
    # the loaded models hold exactly the checkpoint's values
    for key, m in models.items():
        for n, p in m.state_dict().items():
            src = n if n in stored else f'bert.{n}'
            if src in stored:
                assert torch.equal(stored[src], p), (key, n)

    gold = goldens(models, inp, double=False)
    ref = goldens(models, inp, double=True)
    diff = {f: {k: (gold[f][k].double() - ref[f][k].double()).abs() for k in gold[f]} for f in gold}
    noise = {f: {k: d.max().item() if d.numel() else 0.0 for k, d in diff[f].items()} for f in diff}
    over = {f: {k: int((d > 1e-6).sum()) for k, d in diff[f].items()} for f in diff}

    adamw_isolated = isolated_adamw(models['seqcls'], gold)
    assert adamw_isolated < 1e-8, adamw_isolated

    written = {}
    save(out / 'inputs.safetensors', inp, written)
    save(out / 'seqcls_head.safetensors', heads['seqcls'], written)
    save(out / 'tokcls_head.safetensors', heads['tokcls'], written)
    for f, d in gold.items():
        save(out / f'{f}.safetensors', d, written)
    for path, tensors in written.items():  # read back, bit for bit
        back = load_file(str(path))
        assert back.keys() == tensors.keys(), path
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and torch.equal(back[k], v), (path, k)

    write_readme(a, out, config, vocab, pre, stored, inp, corruption, heads, gold, noise, over, adamw_isolated)
    print(f'wrote {out}: ' + ', '.join(sorted(p.name for p in out.iterdir())))


def write_readme(a, out, config, vocab, pre, stored, inp, corruption, heads, gold, noise, over, adamw_isolated):
    B, S = inp['input_ids'].shape
    files = ['checkpoint/config.json', 'checkpoint/vocab.txt', 'checkpoint/model.safetensors', 'inputs.safetensors',
             'seqcls_head.safetensors', 'tokcls_head.safetensors'] + [f'{f}.safetensors' for f in gold]
    sizes = {f: (out / f).stat().st_size for f in files}
    d = config.to_dict()
    cfg = {k: d[k] for k in (
        'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
        'max_position_embeddings', 'type_vocab_size', 'hidden_act', 'hidden_dropout_prob',
        'attention_probs_dropout_prob', 'layer_norm_eps', 'initializer_range', 'pad_token_id', 'position_embedding_type')}
    n_unique = sum(p.numel() for p in pre.parameters())
    n_bert = sum(p.numel() for n, p in pre.named_parameters() if n.startswith('bert.'))
    worst = {f: max(noise[f].values()) for f in noise}
    fwd_keys = ('logits', 'loss', 'last_hidden_state', 'pooler_output')
    fwd_worst = max(v for f in noise for k, v in noise[f].items()
                    if k in fwd_keys or k.startswith(('hidden_states.', 'attentions.', 'grad')))
    L = a.lengths
    kinds = {}
    for (r, c), kind in corruption:
        kinds.setdefault(kind, []).append(f'({r},{c})')
    act_text = {
        'gelu': 'the exact erf GELU `0.5*x*(1+erf(x/sqrt(2)))` (HF `GELUActivation`)',
        'gelu_new': 'the tanh approximation `0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))` written out in HF `NewGELUActivation` (not `torch.nn.functional.gelu(approximate="tanh")`; the two agree to float32 rounding)',
        'gelu_pytorch_tanh': '`torch.nn.functional.gelu(x, approximate="tanh")`',
    }.get(a.act, f'HF `ACT2FN["{a.act}"]`')
    lines = []
    w = lines.append
    w(f'# {out.name} fixture\n')
    w(f'Golden tensors from HuggingFace **transformers {transformers.__version__}** on **torch {torch.__version__}** '
      f'(safetensors {safetensors.__version__}), CPU, 1 thread, float32, eval mode, eager attention. '
      f'Made by `scripts/make-reference.py`, which builds random weights, runs HF\'s own BertModel / BertForMaskedLM / '
      f'BertForSequenceClassification / BertForTokenClassification (each loaded with `from_pretrained(checkpoint)`) and '
      f'`torch.optim.AdamW`, recomputes everything in float64, and reads every file back bit for bit. Regenerate with:\n')
    w('```sh\n' + command_line(a) + '\n```\n')
    w(f'(`--preset {out.name}` runs the same settings.) The layout, dtypes and conventions are those of '
      '`test/fixtures/bert-tiny-parity` (see its README): F32/I64 little-endian safetensors with `__metadata__` '
      '`{"format": "pt"}`, losses as rank-0 tensors, tied `cls.predictions.decoder.*` not stored.\n')
    w('What this fixture adds over bert-tiny-parity: an odd layer count, head size '
      f'{a.hidden // a.heads}, hidden_act `{a.act}`, a longer sequence with heavy right padding '
      f'(row lengths {" / ".join(map(str, L))} of {S}, one row that is only `[CLS]`), per-layer hidden states and '
      'attention probabilities, and a newer transformers/torch.\n')
    w('## Settings\n')
    w('```json\n' + json.dumps(cfg, indent=1) + '\n```\n')
    w(f'- `hidden_act: "{a.act}"` is {act_text}.')
    w('- Every golden is computed in **eval mode** (dropout off), including the gradient and AdamW cases.')
    w('- `attn_implementation="eager"`: HF adds `finfo(float32).min` to the scores of padded *keys*; padded *query* '
      'positions are still computed, and `last_hidden_state`, `hidden_states.*`, `attentions.*` and token logits at '
      'padded positions are part of the goldens. Attention probabilities of padded keys are exactly 0.')
    w('- `position_ids` = 0..S-1 for every row (HF default); `token_type_ids` are passed explicitly.')
    w('- Parameters are NOT HF\'s init: LayerNorm weights `1 + N(0, 0.2²)`, word embeddings (incl. the [PAD] row; also '
      'the tied MLM decoder) `N(0, 0.1²)`, position and token-type embeddings `N(0, 0.3²)`, matrices `N(0, 1/fan_in)`, every bias (incl. LayerNorm and `cls.predictions.bias`) `N(0, 0.2²)`, '
      f'from `torch.Generator().manual_seed({a.seed})`.')
    w(f'- `checkpoint/model.safetensors` holds {n_unique} unique `BertForPreTraining` parameter values '
      f'({n_bert} of them `bert.*`) in {len(stored)} tensors.\n')
    w('## Files\n')
    w('| file | bytes | sha256 |\n|---|---|---|')
    for f in files:
        w(f'| `{f}` | {sizes[f]} | `{sha(out / f)[:16]}…` |')
    w(f'| total | {sum(sizes.values())} | |\n')
    w('`README.md` is written by the same script. `checkpoint/config.json` is HF\'s `save_pretrained` output '
      '(`architectures: ["BertForPreTraining"]`); `vocab.txt` has '
      f'{len(vocab)} made-up wordpieces: `[PAD]`=0 `[UNK]`=1 `[CLS]`=2 `[SEP]`=3 `[MASK]`=4, then `<syllables>x` words '
      'and `##<syllables>q` continuations; no real text.\n')
    w('## checkpoint/model.safetensors\n')
    w(table(stored) + '\n')
    w('Heads and which model uses which weights: as in bert-tiny-parity (BertModel with pooler; BertForMaskedLM and '
      'BertForTokenClassification without; BertForSequenceClassification with).\n')
    w('## inputs.safetensors\n')
    w(table(inp) + '\n')
    w(f'Batch {B} × seq {S}, right-padded with `[PAD]`=0 (attention_mask 0, token_type 0). A row of length ≥ 12 is '
      '`[CLS] a… [SEP] b… [SEP]` (type 0 through the first `[SEP]`, then 1); a shorter one `[CLS] a… [SEP]`; length 1 '
      'is `[CLS]` alone. `input_ids` already carry the MLM corruption (15% of word positions per row, at least one): '
      + '; '.join(f'{k} at {" ".join(v)}' for k, v in kinds.items())
      + '. Those positions hold the original id in `mlm_labels`, all others -100. '
      f'`seqcls_labels` = {inp["seqcls_labels"].tolist()} ({SEQCLS_LABELS} classes). `tokcls_labels` are random in '
      f'0..{TOKCLS_LABELS - 1}, -100 at padding and at (0,0).\n')
    w('Token ids as text (via `vocab.txt`, padding shown as `[PAD]×n`):\n')
    for r in range(B):
        n = L[r]
        w(f'- row {r}: `{row_text(inp["input_ids"][r, :n].tolist(), vocab)}`' + (f' `[PAD]×{S - n}`' if n < S else ''))
    w('')
    w('## Head weights\n')
    w('`seqcls_head.safetensors`:\n\n' + table(heads['seqcls']) + '\n')
    w('`tokcls_head.safetensors`:\n\n' + table(heads['tokcls']) + '\n')
    w('## Goldens\n')
    w('Losses are HF\'s mean `CrossEntropyLoss` over labels != -100 (token classification ignores only -100, not the '
      'attention mask). The last column is max |float32 golden − float64 recomputation| (same weights and inputs, '
      'models cast to double): the float32 rounding noise any correct float32 implementation should be within.\n')
    key_bias_grad = max(v.abs().max().item() for k, v in gold['golden_seqcls'].items() if k.endswith('key.bias'))
    notes = {
        'golden_bert': '`hidden_states.0` is the embeddings output, `hidden_states.{i}` the output of layer i '
                       f'(`hidden_states.{a.layers}` = `last_hidden_state`); `attentions.{{i}}` are layer i\'s '
                       'softmax probabilities [B, heads, S, S].',
        'golden_mlm': 'The MLM loss gradient summarized per unique parameter of `BertForMaskedLM.named_parameters()` '
                      '(float64 reduction, stored F32): `grad_l2norm.<name>`, `grad_sum.<name>`, plus the full '
                      '`grad.cls.predictions.bias`. The word-embedding gradient is the sum of the lookup and the '
                      'tied-decoder parts; row 0 gets only the decoder part (`padding_idx=0`).',
        'golden_seqcls': '`grad.<name>` = d(loss)/d(param) for every `named_parameters()` entry. '
                         '`attention.self.key.bias` grads are mathematically 0 (softmax shift invariance) and hold '
                         'only rounding noise; word-embedding row 0 gets no gradient (`padding_idx=0`).',
        'golden_tokcls': '',
        'golden_adamw': f'`torch.optim.AdamW(model.parameters(), lr={ADAMW["lr"]}, betas={ADAMW["betas"]}, '
                        f'eps={ADAMW["eps"]}, weight_decay={ADAMW["weight_decay"]}, amsgrad=False, foreach=False)` over '
                        'ALL parameters, fresh state, eval mode. Step t (t=1,2): zero grads, forward with '
                        '`seqcls_labels`, backward, `opt.step()`; `step{t}.<name>` = the parameter after step t. '
                        'Step 1\'s gradients are `golden_seqcls` `grad.*`. torch 2.x per element: '
                        '`p *= 1 - lr*wd; m = lerp(m, g, 1-b1); v = b2*v + (1-b2)*g*g; '
                        'p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)`.\n\n'
                        '**Conditioning caveat.** An element whose gradient is not much larger than eps = 1e-8 turns '
                        'absolute gradient rounding noise Δg into a parameter error of about lr·Δg/eps = 1e5·Δg. The '
                        '`attention.self.key.bias` gradients are mathematically zero, so their float32 values are pure '
                        f'noise (|grad| up to {key_bias_grad:.1e} here) and their AdamW update is noise/(|noise| + eps): `step*.…key.bias` '
                        'is NOT reproducible beyond ~lr and is only meaningful as "|step - start| <= ~lr". Compare '
                        'those with a loose bound, or test the optimizer in isolation (start from the checkpoint + '
                        '`seqcls_head`, feed `golden_seqcls` `grad.*` as the gradients: one step reproduces `step1.*` '
                        + ('bit for bit' if adamw_isolated == 0 else f'to {adamw_isolated:.1e}') + ', measured). Tensors whose float32 golden differs from the float64 recomputation by more than '
                        '1e-6:\n\n' + '\n'.join(f'- `{k}`: max diff {noise["golden_adamw"][k]:.2e}, '
                                                 f'{over["golden_adamw"][k]} of {gold["golden_adamw"][k].numel()} '
                                                 'elements > 1e-6'
                                                 for k in gold['golden_adamw'] if noise['golden_adamw'][k] > 1e-6),
    }
    for f in gold:
        w(f'### {f}.safetensors\n')
        if notes[f]:
            w(notes[f] + '\n')
        w(table(gold[f], noise[f]) + '\n')
    w('## How to compare\n')
    adam_ok = max(v for k, v in noise['golden_adamw'].items() if 'key.bias' not in k)
    w(f'float32, elementwise `max |ours − golden| <= 1e-5` for every tensor except the AdamW `key.bias` steps (see the '
      f'conditioning caveat). Measured float32 noise: <= {fwd_worst:.1e} for forward outputs and gradients, '
      f'<= {adam_ok:.1e} for the other AdamW parameters ({worst["golden_adamw"]:.1e} with `key.bias`). Use 1 torch '
      'thread for bitwise checks against HF.\n')
    (out / 'README.md').write_text('\n'.join(lines))


if __name__ == '__main__':
    main(sys.argv[1:])
