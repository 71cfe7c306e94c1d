#!/usr/bin/python3
"""Build a train/validation split of the WBC Image Dataset (Zheng et al., Micron 2018) for
UNetCluster's `--mask-kind classes`.

Source: GitHub zxaoyou/segmentation_WBC (folders "Dataset 1" / "Dataset 2": NNN.bmp image +
NNN.png ground truth with 0 = background (incl. red blood cells), 128 = cytoplasm, 255 = nucleus).

Output:
  OUT/train/images/*.png        8-bit RGB PNG (copied pixel for pixel from the .bmp, no resizing)
  OUT/train/masks/*.png         8-bit gray PNG, class indices 0 background, 1 cytoplasm, 2 nucleus
  OUT/train/masks/classes.json  names only (gray masks: the trainer reads names from it)
  OUT/validation/...            same layout
Stems are "d2_NNN" (or "d1_NNN"), identical for image and mask.

Split: whole images (each image is a different cell; there is no patient id in the data set),
stratified by the WBC type in "Class Labels of Dataset N.csv" so all five types appear on both
sides where possible, random.Random(seed) shuffle inside each type, ceil-ish 20% to validation.

Mask clean-up: a handful of Dataset 2 masks hold a few stray gray values (2..50, < 200 px in
total, anti-aliasing traces); each pixel is mapped to the nearest of {0, 128, 255}.

Usage (issue 16's multi-class figures in bench/README.md: Dataset 2, 80 train / 20 validation):
  bench/wbc_split.py SOURCE OUT [--dataset 1|2|both] [--seed 42] [--val-fraction 0.2]
SOURCE: the repository's work tree (holding "Dataset 2/"), or its git directory (read with `git archive`).
Needs python3-pil and python3-numpy.
"""
import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile

import numpy as np
from PIL import Image

CLASSES = [(0, "background"), (1, "cytoplasm"), (2, "nucleus")]
LEVELS = np.array([0, 128, 255])  # gray level in the source mask for class 0, 1, 2


def extract_from_git(git_dir, dest):
    data = subprocess.run(["git", "--git-dir=" + git_dir, "archive", "--format=tar", "HEAD"],
                          check=True, stdout=subprocess.PIPE).stdout
    tar_path = os.path.join(dest, "repo.tar")
    with open(tar_path, "wb") as f:
        f.write(data)
    with tarfile.open(tar_path) as t:
        t.extractall(dest)
    os.remove(tar_path)
    return dest


def read_types(src, n):
    path = os.path.join(src, "Class Labels of Dataset %d.csv" % n)
    types = {}
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    for row in rows[1:]:
        if len(row) >= 2 and row[0].strip():
            types[int(row[0])] = int(row[1])
    return types


def convert_mask(path):
    a = np.asarray(Image.open(path).convert("L"), dtype=np.int16)
    idx = np.abs(a[..., None] - LEVELS[None, None, :]).argmin(-1).astype(np.uint8)
    return idx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("out")
    ap.add_argument("--dataset", choices=["1", "2", "both"], default="2")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--val-fraction", type=float, default=0.2)
    args = ap.parse_args()

    tmp = None
    src = args.source
    if not os.path.isdir(os.path.join(src, "Dataset %s" % ("1" if args.dataset == "1" else "2"))):
        tmp = tempfile.mkdtemp(prefix="wbc_")
        src = extract_from_git(args.source, tmp)

    sets = [1, 2] if args.dataset == "both" else [int(args.dataset)]
    rng = random.Random(args.seed)
    items = []  # (stem, bmp, png, stratum)
    for n in sets:
        types = read_types(src, n)
        folder = os.path.join(src, "Dataset %d" % n)
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".bmp"):
                continue
            num = int(name[:-4])
            png = os.path.join(folder, name[:-4] + ".png")
            if not os.path.exists(png):
                print("no mask for", name, file=sys.stderr)
                continue
            items.append(("d%d_%s" % (n, name[:-4]), os.path.join(folder, name), png, (n, types.get(num, 0))))

    # Stratified whole-image split.
    val = set()
    strata = {}
    for it in items:
        strata.setdefault(it[3], []).append(it[0])
    n_val_total = max(8, int(round(args.val_fraction * len(items))))
    # Per-stratum quota by largest remainder so the total is exactly n_val_total.
    keys = sorted(strata)
    exact = {k: len(strata[k]) * n_val_total / len(items) for k in keys}
    quota = {k: int(exact[k]) for k in keys}
    for k in sorted(keys, key=lambda k: exact[k] - quota[k], reverse=True)[: n_val_total - sum(quota.values())]:
        quota[k] += 1
    for k in keys:
        stems = sorted(strata[k])
        rng.shuffle(stems)
        val.update(stems[: quota[k]])

    if os.path.exists(args.out) and os.listdir(args.out):
        raise SystemExit("%s exists and is not empty: give a new folder" % args.out)
    counts = {}
    for side in ("train", "validation"):
        for sub in ("images", "masks"):
            os.makedirs(os.path.join(args.out, side, sub))
        with open(os.path.join(args.out, side, "masks", "classes.json"), "w") as f:
            json.dump({"classes": [{"index": i, "name": nm} for i, nm in CLASSES]}, f, indent=1)
        counts[side] = np.zeros(len(CLASSES), dtype=np.int64)

    listing = {"train": [], "validation": []}
    for stem, bmp, png, stratum in items:
        side = "validation" if stem in val else "train"
        img = Image.open(bmp).convert("RGB")
        m = convert_mask(png)
        if m.shape != (img.size[1], img.size[0]):
            raise SystemExit("size mismatch: %s" % stem)
        img.save(os.path.join(args.out, side, "images", stem + ".png"))
        Image.fromarray(m, mode="L").save(os.path.join(args.out, side, "masks", stem + ".png"))
        counts[side] += np.bincount(m.ravel(), minlength=len(CLASSES))
        listing[side].append("%s wbc_type=%d" % (stem, stratum[1]))

    for side in ("train", "validation"):
        with open(os.path.join(args.out, side + ".txt"), "w") as f:
            f.write("\n".join(listing[side]) + "\n")
        c = counts[side]
        share = ", ".join("%d %s %.2f%%" % (i, nm, 100.0 * c[i] / c.sum()) for i, nm in CLASSES)
        print("%s: %d images, pixel share: %s" % (side, len(listing[side]), share))

    if tmp:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
