"""Embed a whole warehouse's samples on a borrowed GPU machine, then store the vectors as the embed stage would.

The benchmarks over all of ../shared/data (the real selection pool, the end-to-end run) need vectors for ~163K
samples; on this project's 2-core machine the embed stage takes over an hour for them. When a GPU machine is lent,
the same model encodes the same recipe texts there in a minute. This script is the round trip:

    export   (here)   recipe texts, cut to the model's token limit exactly as the embed stage cuts them, and the
                      model files split in parts small enough to travel, into a folder
    encode   (there)  SentenceTransformer.encode in float32 on cuda (TF32 off); vectors come back as float16 parts
                      (the only lossy step: transport; cosine to the float32 vector >= 0.9999, checked by `seed`)
    seed     (here)   float16 -> float32, re-normalised, written to the `embeddings` Delta table through the storage
                      module with the local model's fingerprint and the recipe id, so `postmix embed` finds every
                      sample current and skips it

`seed` also re-encodes a random 500 samples on this machine's CPU and reports the lowest cosine against the GPU
vectors: the stored vectors are the model's vectors, not an approximation of them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lib"))

PART_BYTES = (16 << 20) - (64 << 10)  # just below the device tool's 16 MiB per returned file (64 MiB per call)
WEIGHTS = "model.safetensors"


def export(warehouse: Path, out: Path, model: str) -> None:
    import deltalake

    from postmix.embed.encoder import FLAG_EMPTY_TEXT, _recipe_texts, get_encoder
    from postmix.embed.params import EmbedParams
    from postmix.embed.text import truncate_to_tokens

    params = EmbedParams(model=model)
    encoder = get_encoder(params)
    samples = deltalake.DeltaTable(str(warehouse / "samples")).to_pandas(columns=["sample_id", "messages"])
    samples = samples.sort_values("sample_id").reset_index(drop=True)
    texts, flags = _recipe_texts(samples["messages"], params.recipe)
    keep = [i for i, f in enumerate(flags) if FLAG_EMPTY_TEXT not in f]
    cut = truncate_to_tokens([texts[i] for i in keep], encoder.tokenizer, encoder.max_seq_length)
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"sample_id": samples["sample_id"][i], "text": t} for i, t in zip(keep, cut.texts)]
    import gzip

    with gzip.open(out / "texts.jsonl.gz", "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    _split_model(encoder.path, out / "model")
    print(json.dumps({"samples": len(samples), "texts": len(rows), "empty": len(samples) - len(rows),
                      "fingerprint": encoder.fingerprint}))


def _split_model(source: Path, target: Path) -> None:
    """Copy the model folder; the weights in three parts, so that no device call carries more than its limit."""
    import shutil

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(WEIGHTS, "README.md", ".gitattributes"))
    data = (source / WEIGHTS).read_bytes()
    third = (len(data) + 2) // 3
    for index, start in enumerate(range(0, len(data), third)):
        (target.parent / f"weights.part{index}").write_bytes(data[start : start + third])


def encode(folder: Path, out: Path, batch_size: int, device: str) -> None:
    import gzip

    import torch
    from sentence_transformers import SentenceTransformer

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    parts = sorted(folder.glob("weights.part*"))
    with open(folder / "model" / WEIGHTS, "wb") as handle:
        for part in parts:
            handle.write(part.read_bytes())
    with gzip.open(folder / "texts.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    model = SentenceTransformer(str(folder / "model"), device=device, local_files_only=True)
    started = time.perf_counter()
    vectors = model.encode([r["text"] for r in rows], batch_size=batch_size, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
    seconds = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    (out / "ids.sha256").write_text(_ids_digest([r["sample_id"] for r in rows]))
    half = vectors.astype(np.float16)
    rows_per_part = max(1, PART_BYTES // (half.shape[1] * 2))
    for index, start in enumerate(range(0, len(half), rows_per_part)):
        np.save(out / f"vectors.{index:02d}.npy", half[start : start + rows_per_part])
    print(json.dumps({"rows": len(rows), "encode_s": round(seconds, 2), "rows_per_s": round(len(rows) / seconds, 1),
                      "device": torch.cuda.get_device_name(0) if device == "cuda" else device, "torch": torch.__version__,
                      "parts": (len(half) + rows_per_part - 1) // rows_per_part}))


def _ids_digest(ids) -> str:
    import hashlib

    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def load_vectors(folder: Path, texts_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """The vectors in the order of the exported texts; the ids' digest proves the order is the one encoded."""
    import gzip

    with gzip.open(texts_file, "rt", encoding="utf-8") as handle:
        ids = np.array([json.loads(line)["sample_id"] for line in handle], dtype=object)
    if _ids_digest(ids.tolist()) != (folder / "ids.sha256").read_text().strip():
        raise SystemExit(f"{texts_file} is not the file the vectors under {folder} were encoded from")
    parts = sorted(folder.glob("vectors.*.npy"))
    vectors = np.concatenate([np.load(p) for p in parts]).astype(np.float32)
    if len(vectors) != len(ids):
        raise SystemExit(f"{len(ids)} ids but {len(vectors)} vectors under {folder}: a part is missing")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return ids, vectors


def seed(warehouse: Path, folder: Path, texts_file: Path, model: str, check_rows: int) -> None:
    import deltalake

    from postmix.config import load_config
    from postmix.embed.encoder import get_encoder
    from postmix.embed.params import EmbedParams
    from postmix.spark.session import build_session
    from postmix.storage.delta import merge_rows

    ids, vectors = load_vectors(folder, texts_file)
    params = EmbedParams(model=model)
    encoder = get_encoder(params)
    samples = deltalake.DeltaTable(str(warehouse / "samples")).to_pandas(columns=["sample_id", "messages"])
    frame = _stored_rows(samples, ids, vectors, params)
    check = _cpu_check(samples, ids, vectors, params, check_rows)
    frame["model_fingerprint"] = encoder.fingerprint
    frame["run_id"] = "device-embed"
    config = load_config(None, {"warehouse": str(warehouse)})
    spark = build_session(config.spark)
    staging = warehouse.parent / f"{warehouse.name}-device-vectors.parquet"
    frame.to_parquet(staging, index=False)
    rows = spark.read.parquet(str(staging))
    from pyspark.sql import functions as F

    update = {c: F.col(f"s.{c}") for c in frame.columns if c not in ("sample_id", "model")}
    merge_rows(spark, rows, str(warehouse), "embeddings", when_matched_update=update)
    print(json.dumps({"rows": len(frame), "with_vector": int(frame["vector"].notna().sum()), **check}))


def _stored_rows(samples, ids, vectors, params):
    """Every sample's embeddings row, computed by the stage's own code with the encoder's output replaced."""
    from postmix.embed import encoder as encoder_module

    by_id = dict(zip(ids.tolist(), range(len(ids))))
    original = encoder_module._encode_prepared

    def lookup(_encoder, texts, _n_tokens, _params):
        return np.stack([vectors[by_id[sid]] for sid in lookup.ids]) if lookup.ids else np.empty((0, 384), np.float32)

    frames = []
    try:
        encoder_module._encode_prepared = lookup
        for start in range(0, len(samples), 20_000):
            chunk = samples.iloc[start : start + 20_000].reset_index(drop=True)
            texts, flags = encoder_module._recipe_texts(chunk["messages"], params.recipe)
            lookup.ids = [sid for sid, f in zip(chunk["sample_id"], flags) if not f]
            frames.append(encoder_module.embed_frame(chunk, params))
    finally:
        encoder_module._encode_prepared = original
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def _cpu_check(samples, ids, vectors, params, rows: int) -> dict:
    from postmix.embed.encoder import embed_frame

    rng = np.random.default_rng(0)
    picked = set(rng.choice(ids, size=min(rows, len(ids)), replace=False).tolist())
    subset = samples[samples["sample_id"].isin(picked)].reset_index(drop=True)
    local = embed_frame(subset, params)
    by_id = dict(zip(ids.tolist(), range(len(ids))))
    cosines = [float(np.dot(v, vectors[by_id[sid]])) for sid, v in zip(local["sample_id"], local["vector"])
               if v is not None]
    return {"cpu_check_rows": len(cosines), "cpu_check_min_cosine": round(min(cosines), 6)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export")
    ex.add_argument("--warehouse", type=Path, required=True)
    ex.add_argument("--out", type=Path, required=True)
    ex.add_argument("--model", default="all-MiniLM-L6-v2")
    en = sub.add_parser("encode")
    en.add_argument("--folder", type=Path, required=True)
    en.add_argument("--out", type=Path, required=True)
    en.add_argument("--batch-size", type=int, default=512)
    en.add_argument("--device", default="cuda")
    se = sub.add_parser("seed")
    se.add_argument("--warehouse", type=Path, required=True)
    se.add_argument("--vectors", type=Path, required=True)
    se.add_argument("--texts", type=Path, required=True, help="the texts.jsonl.gz that `export` wrote")
    se.add_argument("--model", default="all-MiniLM-L6-v2")
    se.add_argument("--check-rows", type=int, default=500)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.command == "export":
        export(args.warehouse, args.out, args.model)
    elif args.command == "encode":
        encode(args.folder, args.out, args.batch_size, args.device)
    else:
        seed(args.warehouse, args.vectors, args.texts, args.model, args.check_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
