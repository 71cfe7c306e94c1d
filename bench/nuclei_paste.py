#!/usr/bin/python3
"""A nuclei split's training set doubled with copy-paste twins: more touching nuclei to learn the border class from.

    nuclei_paste.py SPLIT OUT [--share 0.3] [--most 20] [--held 4] [--seed 1]

OUT/train holds every training image of SPLIT (a bench/nuclei_split.py folder) as `{id}-1.png` and beside it a twin
`{id}-0.png`: the same image with about --share of its nuclei (at most --most) copied, turned by a random quarter turn
and flip, and pasted where they touch another nucleus along 3 px or more without covering any (each slid out from a
random nucleus' centre in a random direction to the first place it overlaps nothing), with new ids in the mask. Nuclei cut
by the image's edge are not copied. The trainer holds out --held sections evenly spaced through the sorted names
(`TrainingData.ValidationIndexes`); with the twins sorted first, the same originals are held out as without them, and
their twins are made from the image before them instead, so no held-out nucleus is trained on. OUT/validation links to
SPLIT/validation unchanged. Prints the number of nuclei pasted.

This is the "simple copy-paste" augmentation of Ghiasi et al. (CVPR 2021), made offline for one set of twins per image.
Needs numpy, scipy and Pillow (Debian: python3-numpy, python3-scipy, python3-pil).
"""
import argparse
import os
import random

import numpy as np
from PIL import Image
from scipy import ndimage as ndi


def paste(image, mask, rng, share, most):
    image = image.copy()
    mask = mask.astype(np.int64)
    h, w = mask.shape
    ids = [int(i) for i in np.unique(mask) if i]
    if len(ids) < 2:
        return image, mask, 0
    boxes = ndi.find_objects(mask)
    wanted = min(most, max(1, round(share * len(ids))))
    next_id, done = mask.max() + 1, 0
    for _ in range(6 * wanted):
        if done == wanted:
            break
        source, target = rng.sample(ids, 2)
        box = boxes[source - 1]   # find_objects holds a slot for every id up to the largest, pasted ones appended in order
        if box is None or box[0].start == 0 or box[1].start == 0 or box[0].stop == h or box[1].stop == w:
            continue
        shape, pixels = mask[box] == source, image[box]
        if shape.sum() < 20:
            continue
        turns, flip = rng.randrange(4), rng.random() < 0.5
        shape, pixels = np.rot90(shape, turns), np.rot90(pixels, turns)
        if flip:
            shape, pixels = shape[:, ::-1], pixels[:, ::-1]
        ph, pw = shape.shape
        cy, cx = ndi.center_of_mass(mask == target)
        angle = rng.uniform(0, 2 * np.pi)
        place = None
        for t in range(3 * max(h, w)):
            y0 = int(round(cy + t * np.sin(angle) - ph / 2))
            x0 = int(round(cx + t * np.cos(angle) - pw / 2))
            if y0 < 0 or x0 < 0 or y0 + ph > h or x0 + pw > w:
                break
            if not mask[y0:y0 + ph, x0:x0 + pw][shape].any():
                place = (y0, x0)
                break
        if place is None:
            continue
        y0, x0 = place
        pasted = np.zeros((h, w), bool)
        pasted[y0:y0 + ph, x0:x0 + pw] = shape
        ring = ndi.binary_dilation(pasted, structure=ndi.generate_binary_structure(2, 1)) & ~pasted
        if (ring & (mask == target)).sum() < 3:
            continue
        mask[pasted] = next_id
        image[y0:y0 + ph, x0:x0 + pw][shape] = pixels[shape]
        ids.append(int(next_id))
        boxes.append((slice(y0, y0 + ph), slice(x0, x0 + pw)))
        next_id += 1
        done += 1
    return image, mask, done


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("split")
    parser.add_argument("out")
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--most", type=int, default=20)
    parser.add_argument("--held", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    names = sorted(os.listdir(os.path.join(args.split, "train", "masks")))
    step = len(names) / args.held
    held = {int(round(k * step)) - 1 for k in range(1, args.held + 1)}
    for kind in ("images", "masks"):
        os.makedirs(os.path.join(args.out, "train", kind), exist_ok=True)
    if not os.path.exists(os.path.join(args.out, "validation")):
        os.symlink(os.path.abspath(os.path.join(args.split, "validation")), os.path.join(args.out, "validation"))
    def read(kind, name):
        return Image.open(os.path.join(args.split, "train", kind, name))

    total = 0
    for i, name in enumerate(names):
        stem = os.path.splitext(name)[0]
        read("images", name).save(os.path.join(args.out, "train", "images", f"{stem}-1.png"))
        read("masks", name).save(os.path.join(args.out, "train", "masks", f"{stem}-1.png"))
        source = names[i - 1] if i in held else name
        image, mask, done = paste(np.array(read("images", source)), np.array(read("masks", source)), rng, args.share, args.most)
        total += done
        Image.fromarray(image).save(os.path.join(args.out, "train", "images", f"{stem}-0.png"))
        Image.fromarray(mask.astype(np.uint16)).save(os.path.join(args.out, "train", "masks", f"{stem}-0.png"))
    print(f"{total} nuclei pasted into {len(names)} twins; held-out originals {sorted(held)} (their twins from the image before)")


if __name__ == "__main__":
    main()
