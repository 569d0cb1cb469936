"""The corpus of the end-to-end benchmark (scripts/bench/e2e/index.ts).

    python scripts/bench/e2e/make_corpus.py --out DIR --model MINILM_DIR
        [--train 7000] [--eval 1000] [--infer 100000] [--max-length 64]
        [--infer-max-length 128] [--seed 42] [--source vader|synthetic]

Source `vader` (the default): real English sentiment sentences from the
PyPI source distribution of vaderSentiment 3.3.2 (MIT), fetched with
`pip download --no-deps --no-binary :all:` and checked against its sha256. Its
additional_resources/hutto_ICWSM_2014.tar.gz holds the human-rated sentence
sets of Hutto & Gilbert (ICWSM 2014): 10,605 Rotten Tomatoes snippets (the
sentences of Pang & Lee 2005, where SST comes from), 3,708 Amazon review
snippets, 5,190 NYT editorial snippets and 4,200 tweets, each with the mean
valence of 20 raters in [-4, 4].
- train.csv / eval.csv (text,label): the movie snippets with a non-zero mean
  rating, label `positive` (> 0) or `negative` (< 0), shuffled with --seed.
- infer.txt: --infer lines drawn with replacement from all four sets (23,703
  distinct sentences: reviews, editorials and tweets), one text a line.

Source `synthetic` (no network, or --source synthetic): sentences made from a
small built-in vocabulary, lengths drawn to match the movie snippets' histogram
(log-normal, median ~20 words, a tail past 64 tokens); labelled by the sign of
their sentiment words. Their accuracy numbers mean little; their timings do.

Writes meta.json: the source, counts, the token-length histogram (MiniLM's
tokenizer, special tokens included, no truncation) and the real-token counts
after truncation to --max-length / --infer-max-length, which both sides of the
benchmark use for tokens/s. Prints the histogram on stderr.
"""
import argparse
import hashlib
import io
import json
import math
import os
import random
import subprocess
import sys
import tarfile

VADER = "vaderSentiment==3.3.2"
VADER_FILE = "vaderSentiment-3.3.2.tar.gz"
VADER_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
SETS = ["movieReviewSnippets", "amazonReviewSnippets", "nytEditorialSnippets", "tweets"]
BINS = [(1, 9), (10, 19), (20, 29), (30, 39), (40, 49), (50, 63), (64, 95), (96, 127), (128, 10**9)]


def log(msg):
    print(f"[corpus] {msg}", file=sys.stderr, flush=True)


def fetch_vader(cache):
    """The sdist, from the cache or pip; None when pip cannot get it."""
    path = os.path.join(cache, VADER_FILE)
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        log(f"pip download --no-deps --no-binary :all: {VADER}")
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", VADER, "-d", cache])
        if r.returncode != 0 or not os.path.exists(path):
            return None
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != VADER_SHA256:
        raise SystemExit(f"{path}: sha256 {digest}, expected {VADER_SHA256}")
    return path


def read_vader(path):
    """{set name: [(valence, text)]} from the sdist's inner tarball."""
    with tarfile.open(path) as outer:
        inner = tarfile.open(fileobj=io.BytesIO(outer.extractfile(INNER).read()))
    out = {}
    for name in SETS:
        raw = inner.extractfile(f"hutto_ICWSM_2014/{name}_GroundTruth.txt").read().decode("utf-8", errors="replace")
        rows = []
        for line in raw.splitlines():
            parts = line.split("\t")
            if len(parts) != 3:
                continue
            text = " ".join(parts[2].split())  # one line, single spaces
            if text:
                rows.append((float(parts[1]), text))
        out[name] = rows
    return out


POS = "good great fine brilliant moving funny charming smart fresh lovely engaging witty superb beautiful gripping".split()
NEG = "bad dull boring flat tired messy weak clumsy stale silly tedious awful bland lifeless pointless".split()
FILL = ("the a film movie story it is was and but of to in that with its this as for director cast plot "
        "scenes an by on at from who one characters performance script ending never more than too "
        "so just not very about some time his her their there all when which what be has have").split()


def synthetic(n, rnd):
    """n (valence, text) pairs with the movie snippets' length profile."""
    rows = []
    for _ in range(n):
        words = max(2, min(120, int(math.exp(rnd.gauss(math.log(19), 0.55)))))
        tone = 1 if rnd.random() < 0.5 else -1
        out = []
        for _ in range(words):
            r = rnd.random()
            if r < 0.12:
                out.append(rnd.choice(POS if (tone > 0) == (rnd.random() < 0.85) else NEG))
            else:
                out.append(rnd.choice(FILL))
        text = " ".join(out).capitalize() + "."
        score = sum(1 if w in POS else -1 if w in NEG else 0 for w in out) or tone
        rows.append((float(score), text))
    return rows


def histogram(lengths):
    rows = []
    for lo, hi in BINS:
        c = sum(lo <= x <= hi for x in lengths)
        rows.append({"tokens": f"{lo}-{hi}" if hi < 10**9 else f"{lo}+", "count": c, "share": round(c / max(1, len(lengths)), 4)})
    return rows


def print_histogram(title, lengths):
    s = sorted(lengths)
    q = lambda p: s[min(len(s) - 1, int(p * len(s)))]  # noqa: E731
    log(f"{title}: {len(s)} texts, tokens (MiniLM, with [CLS]/[SEP]) p10 {q(0.1)} p50 {q(0.5)} p90 {q(0.9)} p99 {q(0.99)} max {s[-1]}, mean {sum(s) / len(s):.1f}")
    for r in histogram(lengths):
        bar = "#" * round(r["share"] * 100)
        log(f"  {r['tokens']:>8} {r['count']:7d} {100 * r['share']:5.1f}% {bar}")


def write_csv(path, rows):
    import csv
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for score, text in rows:
            w.writerow([text, "positive" if score > 0 else "negative"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", required=True, help="MiniLM folder (its tokenizer measures lengths)")
    ap.add_argument("--train", type=int, default=7000)
    ap.add_argument("--eval", type=int, default=1000)
    ap.add_argument("--infer", type=int, default=100000)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--infer-max-length", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--source", choices=["vader", "synthetic"], default="vader")
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "bertorch-bench"))
    a = ap.parse_args()

    rnd = random.Random(a.seed)
    source = a.source
    sets = None
    if source == "vader":
        path = fetch_vader(a.cache)
        if path is None:
            log("could not fetch the vaderSentiment sdist: falling back to the synthetic corpus")
            source = "synthetic"
        else:
            sets = read_vader(path)
    if source == "vader":
        labelled = [r for r in sets["movieReviewSnippets"] if r[0] != 0]
        pool = [r for name in SETS for r in sets[name]]
    else:
        labelled = synthetic(a.train + a.eval, rnd)
        pool = labelled + synthetic(20000, rnd)
    rnd.shuffle(labelled)
    if a.train + a.eval > len(labelled):
        raise SystemExit(f"--train {a.train} + --eval {a.eval} is over the {len(labelled)} labelled sentences")
    train, evl = labelled[: a.train], labelled[a.train: a.train + a.eval]
    infer = [pool[rnd.randrange(len(pool))][1] for _ in range(a.infer)]

    os.makedirs(a.out, exist_ok=True)
    write_csv(os.path.join(a.out, "train.csv"), train)
    write_csv(os.path.join(a.out, "eval.csv"), evl)
    with open(os.path.join(a.out, "infer.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(infer) + "\n")

    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(a.model)
    lens = lambda texts: [len(x) for x in tok([t for t in texts], add_special_tokens=True)["input_ids"]]  # noqa: E731
    train_len, eval_len, infer_len = lens([t for _, t in train]), lens([t for _, t in evl]), lens(infer)
    print_histogram("train", train_len)
    print_histogram("eval", eval_len)
    print_histogram("infer", infer_len)
    meta = {
        "source": source,
        "source_detail": ("PyPI vaderSentiment 3.3.2 sdist, additional_resources/hutto_ICWSM_2014 (Hutto & Gilbert 2014): "
                          "Rotten Tomatoes snippets with non-zero mean human valence for train/eval; "
                          "movie, Amazon, NYT editorial and tweet snippets (drawn with replacement) for infer")
        if source == "vader" else "synthetic sentences with the movie snippets' length profile",
        "seed": a.seed,
        "train": len(train), "eval": len(evl), "infer": len(infer),
        "train_positive": sum(s > 0 for s, _ in train), "eval_positive": sum(s > 0 for s, _ in evl),
        "max_length": a.max_length, "infer_max_length": a.infer_max_length,
        "train_tokens": sum(min(x, a.max_length) for x in train_len),
        "eval_tokens": sum(min(x, a.max_length) for x in eval_len),
        "infer_tokens": sum(min(x, a.infer_max_length) for x in infer_len),
        "train_truncated": sum(x > a.max_length for x in train_len),
        "histogram_train": histogram(train_len), "histogram_eval": histogram(eval_len), "histogram_infer": histogram(infer_len),
        "median_tokens_train": sorted(train_len)[len(train_len) // 2],
    }
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    log(f"{source}: {len(train)} train ({meta['train_positive']} positive), {len(evl)} eval, {len(infer)} infer -> {a.out}")


if __name__ == "__main__":
    main()
