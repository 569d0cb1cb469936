"""Peer of scripts/bench/parquet.ts: pyarrow + HF `tokenizers`.

    peer_parquet.py make --out corpus.parquet --size-mb 128
        writes a synthetic text corpus (Zipf words made of syllables, 1-3
        sentences a row) as Parquet, snappy, row groups of 20,000 rows.
    peer_parquet.py tokenize --input corpus.parquet --tokenizer tokenizer.json --out ids.bin --threads N
        reads the text column a record batch at a time (pyarrow), tokenizes
        each batch with Tokenizer.encode_batch on RAYON_NUM_THREADS=N
        (special tokens added, no truncation or padding, as bertorch's
        writeShards), appends the ids (uint16) to a file, and prints one JSON
        line: rows, tokens, seconds, peak RSS.
"""
import argparse
import json
import os
import resource
import sys
import time


def make(a):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(2024)
    cons = ['b', 'c', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'st', 'th', 'ch', 'tr']
    vows = ['a', 'e', 'i', 'o', 'u', 'ea', 'ou']
    syl = [c + v for c in cons for v in vows]
    words = sorted({''.join(rng.choice(syl, size=rng.integers(1, 4))) for _ in range(40000)})
    words = np.array(words, dtype=object)
    # Zipf(1) ranks: floor(N^u) - 1.
    target, written, rows = a.size_mb * 1e6, 0, 0
    schema = pa.schema([('id', pa.int64()), ('text', pa.string())])
    with pq.ParquetWriter(a.out, schema, compression='snappy') as w:
        while written < target:
            n = 20000
            lengths = rng.integers(8, 60, size=n)
            ranks = np.minimum(len(words) - 1, np.floor(len(words) ** rng.random(lengths.sum())).astype(np.int64) - 1)
            flat = words[ranks]
            texts, at = [], 0
            for k in lengths:
                texts.append(' '.join(flat[at:at + k]).capitalize() + '.')
                at += k
            written += sum(len(t) for t in texts)
            w.write_table(pa.table({'id': np.arange(rows, rows + n), 'text': texts}, schema=schema), row_group_size=n)
            rows += n
    print(json.dumps({'rows': rows, 'text_bytes': int(written), 'file_bytes': os.path.getsize(a.out)}))


def tokenize(a):
    import numpy as np
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(a.tokenizer)
    tok.no_truncation()
    tok.no_padding()
    start = time.perf_counter()
    rows = tokens = 0
    with open(a.out, 'wb') as out:
        for batch in pq.ParquetFile(a.input).iter_batches(batch_size=4096, columns=['text']):
            texts = batch.column(0).to_pylist()
            encs = tok.encode_batch(texts)
            ids = np.concatenate([np.asarray(e.ids, dtype=np.uint16) for e in encs])
            out.write(ids.tobytes())
            rows += len(texts)
            tokens += len(ids)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'rows': rows, 'tokens': tokens, 'seconds': round(seconds, 3), 'peakRssMB': round(peak, 1), 'threads': int(os.environ.get('RAYON_NUM_THREADS', '0'))}))


p = argparse.ArgumentParser()
sub = p.add_subparsers(dest='cmd', required=True)
m = sub.add_parser('make')
m.add_argument('--out', required=True)
m.add_argument('--size-mb', type=float, default=128)
t = sub.add_parser('tokenize')
t.add_argument('--input', required=True)
t.add_argument('--tokenizer', required=True)
t.add_argument('--out', required=True)
a = p.parse_args()
make(a) if a.cmd == 'make' else tokenize(a)
