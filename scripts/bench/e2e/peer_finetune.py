"""HF peer of `bertorch finetune` in the end-to-end benchmark (scripts/bench/e2e/index.ts).

    python scripts/bench/e2e/peer_finetune.py --model DIR --train train.csv --eval eval.csv --out DIR
        [--epochs 2] [--max-length 64] [--batch-size 32] [--eval-batch-size 64] [--lr 5e-5]
        [--warmup-ratio 0.1] [--weight-decay 0.01] [--seed 42] [--threads N] [--group-by-length]

What a transformers user writes: read the CSVs, tokenize every text once
(truncation to --max-length, no padding), AutoModelForSequenceClassification
from the MiniLM folder, Trainer with DataCollatorWithPadding (pad to the
batch's longest), evaluation and a checkpoint each epoch, the best model (by
eval_loss) loaded at the end and saved into --out with the tokenizer.
torch.set_num_threads(--threads). Prints one JSON line on stdout with the
phases, timed in-process by a TrainerCallback (the same boundaries index.ts
reads from bertorch's per-step log lines):
  tokenize_s  the tokenizer call over train + eval texts
  train_s     first step's start to last step's end, less the evaluations
              between them (the epoch-1 checkpoint write is inside, as in ours)
  eval_s      the evaluations (HF's eval_runtime)
  finish_s    end of the last evaluation to the end: last checkpoint, loading
              the best, save_model
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainerCallback,
    TrainingArguments,
)

T_IMPORTED = time.perf_counter()


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


class Clock(TrainerCallback):
    """Times the phases: step boundaries and evaluations."""

    def __init__(self, collator=None):
        self.collator = collator
        self.first_step = None
        self.last_step_end = None
        self.evals = []  # (time on_evaluate ran, metrics)
        self.step_ends = []  # every step's end (the interval to the previous one includes fetching its batch)

    def on_epoch_begin(self, args, state, control, **kw):
        if self.collator is not None:
            self.collator.training = True

    def on_epoch_end(self, args, state, control, **kw):
        if self.collator is not None:
            self.collator.training = False

    def on_step_begin(self, args, state, control, **kw):
        if self.first_step is None:
            self.first_step = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        self.last_step_end = time.perf_counter()
        self.step_ends.append(self.last_step_end)

    def on_evaluate(self, args, state, control, metrics=None, **kw):
        self.evals.append((time.perf_counter(), dict(metrics or {}), state.epoch))


class Lengths(DataCollatorWithPadding):
    """DataCollatorWithPadding that notes each training batch's padded length (batches are built in step order)."""

    def __init__(self, tokenizer, sink):
        super().__init__(tokenizer)
        self._sink = sink
        self.training = False  # set by Clock between on_epoch_begin and on_epoch_end: evaluation batches are not noted

    def __call__(self, features):
        batch = super().__call__(features)
        if self.training:
            self._sink.append(int(batch["input_ids"].shape[1]))
        return batch


def accuracy(p):
    logits, labels = p
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--eval", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--eval-batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--warmup-ratio", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--group-by-length", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    transformers.set_seed(a.seed)

    train_texts, train_labels = read_csv(a.train)
    eval_texts, eval_labels = read_csv(a.eval)
    names = sorted(set(train_labels))  # bertorch's default: sorted labels of --train
    label2id = {n: i for i, n in enumerate(names)}
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(
        a.model, num_labels=len(names), id2label=dict(enumerate(names)), label2id=label2id)
    t_loaded = time.perf_counter()

    t0 = time.perf_counter()
    enc_train = tokenizer(train_texts, truncation=True, max_length=a.max_length)
    enc_eval = tokenizer(eval_texts, truncation=True, max_length=a.max_length)
    tokenize_s = time.perf_counter() - t0

    def rows(enc, labels):
        keys = list(enc.keys())
        return [{**{k: enc[k][i] for k in keys}, "labels": label2id[labels[i]]} for i in range(len(labels))]

    train_set, eval_set = rows(enc_train, train_labels), rows(enc_eval, eval_labels)
    args = TrainingArguments(
        output_dir=os.path.join(a.out, "checkpoints"), num_train_epochs=a.epochs,
        per_device_train_batch_size=a.batch_size, per_device_eval_batch_size=a.eval_batch_size,
        learning_rate=a.lr, warmup_ratio=a.warmup_ratio, weight_decay=a.weight_decay, seed=a.seed,
        eval_strategy="epoch", save_strategy="epoch", save_total_limit=2, load_best_model_at_end=True,
        metric_for_best_model="eval_loss", greater_is_better=False, logging_steps=50, report_to="none",
        disable_tqdm=True, use_cpu=True, dataloader_num_workers=0, group_by_length=a.group_by_length,
    )
    lengths = []
    collator = Lengths(tokenizer, lengths)
    clock = Clock(collator)
    trainer = Trainer(
        model=model, args=args, train_dataset=train_set, eval_dataset=eval_set,
        data_collator=collator, compute_metrics=accuracy, callbacks=[clock],
    )
    result = trainer.train()
    trainer.save_model(a.out)
    tokenizer.save_pretrained(a.out)
    t_end = time.perf_counter()

    evals = clock.evals
    between = sum(m.get("eval_runtime", 0.0) for t, m, _ in evals if t <= clock.last_step_end)
    train_s = clock.last_step_end - clock.first_step - between
    eval_s = sum(m.get("eval_runtime", 0.0) for _, m, _ in evals)
    best = min(evals, key=lambda e: e[1]["eval_loss"])[1]
    # Step intervals, end to end (as bertorch's log lines): an interval holding an evaluation is dropped.
    marks = [clock.first_step] + clock.step_ends
    eval_times = [t for t, _, _ in evals]
    step_ms = [None if any(marks[i] < t <= marks[i + 1] for t in eval_times) else round(1e3 * (marks[i + 1] - marks[i]), 2)
               for i in range(len(marks) - 1)]
    print(json.dumps({
        "impl": "transformers", "threads": torch.get_num_threads(), "torch": torch.__version__,
        "transformers": transformers.__version__, "optim": str(args.optim),
        "import_s": round(T_IMPORTED - T_START, 3), "load_s": round(t_loaded - T_IMPORTED, 3),
        "tokenize_s": round(tokenize_s, 3), "train_s": round(train_s, 3), "eval_s": round(eval_s, 3),
        "finish_s": round(t_end - evals[-1][0], 3), "in_process_s": round(t_end - T_START, 3),
        "steps": result.global_step, "train_loss": round(result.training_loss, 5),
        "accuracy": best.get("eval_accuracy"), "eval_loss": best.get("eval_loss"),
        "evals": [{"epoch": round(ep or 0, 3), "eval_loss": m.get("eval_loss"), "accuracy": m.get("eval_accuracy"),
                   "eval_s": m.get("eval_runtime")} for _, m, ep in evals],
        "step_ms": step_ms, "train_lengths": lengths[: len(step_ms)],
    }), flush=True)


if __name__ == "__main__":
    sys.exit(main())
