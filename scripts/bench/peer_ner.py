#!/usr/bin/env python3
"""The peer of scripts/bench/ner.ts: HF Trainer fine-tunes the same folder
for token classification on the same CoNLL file with bertorch finetune's
defaults (AdamW, lr, linear schedule with 10% warmup, weight decay 0.01,
batch 32, seed 42, run_ner's first-piece labels), and saves the model for
score-ner-hf.py. Prints one JSON line with its wall time.

    python peer_ner.py MODEL_DIR train.conll OUT_DIR --epochs 1 --lr 5e-5 --max-length 128 --threads 2
"""

import argparse
import json
import os
import sys
import time

import torch
from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification, Trainer,
                          TrainingArguments, set_seed)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
from importlib import import_module  # noqa: E402

read_conll = import_module("score-ner-hf").read_conll


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("train")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    set_seed(42)
    sentences = read_conll(args.train)
    labels = sorted({t for _, tags in sentences for t in tags})
    label2id = {l: i for i, l in enumerate(labels)}
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForTokenClassification.from_pretrained(
        args.model, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)
    features = []
    for words, tags in sentences:
        enc = tok(words, is_split_into_words=True, truncation=True, max_length=args.max_length)
        previous, ids = None, []
        for w in enc.word_ids():
            ids.append(-100 if w is None or w == previous else label2id[tags[w]])
            previous = w
        enc["labels"] = ids
        features.append(dict(enc))
    targs = TrainingArguments(
        output_dir=args.out, num_train_epochs=args.epochs, per_device_train_batch_size=32, learning_rate=args.lr,
        warmup_ratio=0.1, weight_decay=0.01, seed=42, logging_steps=50, save_strategy="no", report_to=[],
        use_cpu=True, dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=targs, train_dataset=features, data_collator=DataCollatorForTokenClassification(tok))
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    trainer.save_model(args.out)
    tok.save_pretrained(args.out)
    print(json.dumps({"train_s": seconds}))


if __name__ == "__main__":
    main()
