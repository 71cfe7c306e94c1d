#!/usr/bin/python3
"""A nuclei split with every image scaled up to one nucleus size, and predictions made there sampled back.

    nuclei_scale.py up SPLIT OUT [--target 32] [--max 2.5]
        every image of SPLIT/train and SPLIT/validation (a bench/nuclei_split.py folder) scaled by
        clip(target / d, 1, max), d its median nucleus' diameter from its own mask (the diameter of the disc of the
        median area: an oracle, as Cellpose's --diameter given by hand); images bilinear, masks nearest; OUT/factors.json
        records each factor
    nuclei_scale.py back PREDICTION MASKS OUT
        a `unet predict --out` folder made on the scaled images, its `{id}.instances.png` and `{id}.classes.png`
        resampled (nearest) to the size of the unscaled masks in MASKS, for `unet evaluate --predictions OUT`

Images are only scaled up: small nuclei get more pixels across their contacts, large ones are left as they are. The
images are the 8-bit gray or RGB PNGs nuclei_split.py writes.
Needs numpy and Pillow (Debian: python3-numpy, python3-pil).
"""
import argparse
import json
import os

import numpy as np
from PIL import Image


def median_diameter(mask):
    _, areas = np.unique(mask[mask > 0], return_counts=True)
    return 2 * np.sqrt(np.median(areas) / np.pi)


def resample_labels(labels, size):
    return np.array(Image.fromarray(labels.astype(np.int32), "I").resize(size, Image.NEAREST))


def up(args):
    factors = {}
    for part in ("train", "validation"):
        for kind in ("images", "masks"):
            os.makedirs(os.path.join(args.out, part, kind), exist_ok=True)
        for name in sorted(os.listdir(os.path.join(args.split, part, "masks"))):
            mask_image = Image.open(os.path.join(args.split, part, "masks", name))
            mask = np.array(mask_image)
            image = Image.open(os.path.join(args.split, part, "images", name))
            factor = float(np.clip(args.target / median_diameter(mask), 1, args.max))
            factors[f"{part}/{name}"] = factor
            if factor > 1:
                size = (round(image.size[0] * factor), round(image.size[1] * factor))
                image = image.resize(size, Image.BILINEAR)
                mask_image = Image.fromarray(resample_labels(mask, size).astype(mask.dtype))
            image.save(os.path.join(args.out, part, "images", name))
            mask_image.save(os.path.join(args.out, part, "masks", name))
    with open(os.path.join(args.out, "factors.json"), "w") as f:
        json.dump(factors, f, indent=1)
    print(f"{sum(1 for v in factors.values() if v > 1)} of {len(factors)} images scaled up")


def back(args):
    os.makedirs(args.out, exist_ok=True)
    for name in sorted(os.listdir(args.masks)):
        stem = os.path.splitext(name)[0]
        size = Image.open(os.path.join(args.masks, name)).size
        for suffix, dtype in ((".instances.png", np.uint16), (".classes.png", np.uint8)):
            labels = np.array(Image.open(os.path.join(args.prediction, stem + suffix)))
            Image.fromarray(resample_labels(labels, size).astype(dtype)).save(os.path.join(args.out, stem + suffix))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("up")
    p.add_argument("split")
    p.add_argument("out")
    p.add_argument("--target", type=float, default=32)
    p.add_argument("--max", type=float, default=2.5)
    p.set_defaults(run=up)
    p = commands.add_parser("back")
    p.add_argument("prediction")
    p.add_argument("masks")
    p.add_argument("out")
    p.set_defaults(run=back)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
