"""A synthetic raw corpus with known duplicates, for the Spark example and its test.

Lines are base texts (30-45 random words), exact copies of earlier lines (some
with other whitespace or wrapped in <p> tags, which cleaning removes), near
copies (one word replaced or added: character 5-gram Jaccard about 0.9), and
blank lines. Deterministic from --seed.

    python make_corpus.py --lines 3000 --out corpus.txt
"""
import argparse
import json
import random

p = argparse.ArgumentParser()
p.add_argument('--lines', type=int, default=20000)
p.add_argument('--seed', type=int, default=7)
p.add_argument('--out', required=True)
a = p.parse_args()

rng = random.Random(a.seed)
syllables = ['ka', 'lo', 'mi', 'ren', 'tas', 'vo', 'shi', 'pel', 'dun', 'ar', 'bex', 'qui', 'zor', 'ept', 'hal', 'nu']
vocab = sorted({''.join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(3000)})
bases, lines = [], []
kinds = {'base': 0, 'exact': 0, 'near': 0, 'blank': 0}
for _ in range(a.lines):
    r = rng.random()
    if r < 0.03:
        lines.append('   ')
        kinds['blank'] += 1
        continue
    if r < 0.18 and bases:
        text = rng.choice(lines[-500:] if rng.random() < 0.5 else bases)
        if not text.strip():
            text = rng.choice(bases)
        variant = rng.random()
        text = '<p>' + text + '</p>' if variant < 0.2 else '  ' + text.replace(' ', '  ', 2) if variant < 0.4 else text
        kinds['exact'] += 1
    elif r < 0.28 and bases:
        words = rng.choice(bases).split(' ')
        if rng.random() < 0.5:
            words[rng.randrange(len(words))] = rng.choice(vocab)
        else:
            words.insert(rng.randrange(len(words)), rng.choice(vocab))
        text = ' '.join(words)
        kinds['near'] += 1
    else:
        text = ' '.join(rng.choice(vocab) for _ in range(rng.randint(30, 45)))
        bases.append(text)
        kinds['base'] += 1
    lines.append(text)
with open(a.out, 'w', encoding='utf-8') as f:
    f.write('\n'.join(lines) + '\n')
print(json.dumps({'lines': len(lines), **kinds}))
