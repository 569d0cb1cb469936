"""HF peer of `bertorch predict` in the end-to-end benchmark (scripts/bench/e2e/index.ts).

    python scripts/bench/e2e/peer_predict.py --model DIR --input texts.txt --output out.jsonl
        [--batch-size 32] [--max-length 128] [--threads N]

transformers' text-classification pipeline on the CPU with batching (the
same batch size; each batch padded to its longest, truncated to
--max-length), over one text per line of --input, in order; writes one JSON
line {"text", "label", "score"} per text, as `bertorch predict` does. Prints
one JSON line on stdout: import_s, load_s, predict_s (the pipeline over all
texts, writing included), texts.
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import pipeline  # noqa: E402

T_IMPORTED = time.perf_counter()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.input, encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f if line.strip()]
    pipe = pipeline("text-classification", model=a.model, tokenizer=a.model, device="cpu")
    t_loaded = time.perf_counter()
    with open(a.output, "w", encoding="utf-8") as out:
        results = pipe(texts, batch_size=a.batch_size, truncation=True, max_length=a.max_length)
        for text, r in zip(texts, results):
            out.write(json.dumps({"text": text, "label": r["label"], "score": r["score"]}) + "\n")
    t_end = time.perf_counter()
    print(json.dumps({
        "impl": "transformers", "threads": torch.get_num_threads(), "torch": torch.__version__, "transformers": transformers.__version__,
        "import_s": round(T_IMPORTED - T_START, 3), "load_s": round(t_loaded - T_IMPORTED, 3),
        "predict_s": round(t_end - t_loaded, 3), "texts": len(texts),
    }), flush=True)


if __name__ == "__main__":
    main()
