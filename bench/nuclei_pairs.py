#!/usr/bin/python3
"""Which pairs of true nuclei come out merged, from `unet predict` outputs and the held-out instance masks.

    nuclei_pairs.py gaps MASKS PREDICTION
        pairs of true nuclei within 4 px of each other, by gap, and how many of each come out in one predicted object
    nuclei_pairs.py marked MASKS PREDICTION
        for the pairs touching along 3 px or more: the share of their contact pixels predicted as border (arg-max class 2),
        for the pairs merged and for the pairs kept apart
    nuclei_pairs.py consistent MASKS PREDICTION... [--crops DIR --images IMAGES]
        for several runs' predictions of the same images: in how many runs each touching pair comes out merged; with
        --crops, a picture of every pair merged in all of them (the image, then the two nuclei outlined)

MASKS holds the 16-bit instance masks (`{id}.png`); PREDICTION is a `unet predict --out` folder (`{id}.instances.png`,
`{id}.classes.png`). A true nucleus belongs to the predicted object that holds half of it or more; a pair is merged when
both belong to the same object (as `unet evaluate` counts merges). Needs numpy, scipy and Pillow (Debian: python3-numpy,
python3-scipy, python3-pil).
"""
import argparse
import os
from collections import Counter

import numpy as np
from PIL import Image
from scipy import ndimage as ndi


def load(path):
    a = np.array(Image.open(path)).astype(np.int64)
    return a[..., 0] if a.ndim == 3 else a


def owners(truth, predicted):
    """The predicted object holding half or more of each true nucleus, else 0."""
    result = {}
    for i in np.unique(truth):
        if i == 0:
            continue
        inside = truth == i
        values, counts = np.unique(predicted[inside], return_counts=True)
        k = counts.argmax()
        result[i] = values[k] if values[k] and counts[k] * 2 >= inside.sum() else 0
    return result


def contacts(truth):
    """{(i, j): contact pixels} for the pairs of nuclei 4-adjacent somewhere (pixels of both sides)."""
    h, w = truth.shape
    found = {}
    for dy, dx in ((0, 1), (1, 0)):
        a, b = truth[:h - dy, :w - dx], truth[dy:, dx:]
        ys, xs = np.nonzero((a != b) & (a > 0) & (b > 0))
        for y, x in zip(ys, xs):
            i, j = a[y, x], b[y, x]
            found.setdefault((min(i, j), max(i, j)), set()).update({(y, x), (y + dy, x + dx)})
    return found


def merged(owner, i, j):
    return bool(owner[i]) and owner[i] == owner[j]


def images(masks):
    return [f[:-4] for f in sorted(os.listdir(masks)) if f.endswith('.png')]


def gaps(args):
    rows = {'touching along a side': [0, 0], '1.4-2 px apart': [0, 0], '2-3 px apart': [0, 0], '3-4 px apart': [0, 0]}
    for stem in images(args.masks):
        truth = load(os.path.join(args.masks, stem + '.png'))
        owner = owners(truth, load(os.path.join(args.prediction[0], stem + '.instances.png')))
        ids = [i for i in np.unique(truth) if i]
        for i in ids:
            distance = ndi.distance_transform_edt(truth != i)
            for j in ids:
                if j <= i:
                    continue
                gap = distance[truth == j].min()
                if gap > 4:
                    continue
                kind = list(rows)[0 if gap <= 1 else 1 if gap <= 2 else 2 if gap <= 3 else 3]
                rows[kind][0] += 1
                rows[kind][1] += merged(owner, i, j)
    for kind, (pairs, merges) in rows.items():
        print(f'{kind:22s} pairs {pairs:4d}  merged {merges:4d}')


def marked(args):
    shares = {True: [], False: []}
    for stem in images(args.masks):
        truth = load(os.path.join(args.masks, stem + '.png'))
        owner = owners(truth, load(os.path.join(args.prediction[0], stem + '.instances.png')))
        classes = load(os.path.join(args.prediction[0], stem + '.classes.png'))
        for (i, j), pixels in contacts(truth).items():
            if len(pixels) < 6:
                continue
            ys, xs = zip(*pixels)
            shares[merged(owner, i, j)].append((classes[list(ys), list(xs)] == 2).mean())
    for label, key in (('merged', True), ('kept apart', False)):
        s = np.array(shares[key])
        print(f'{label:10s} pairs {len(s):3d}  contact marked as border: none {np.sum(s == 0):3d}, under 25 % '
              f'{np.sum((s > 0) & (s < .25)):3d}, 25-50 % {np.sum((s >= .25) & (s < .5)):3d}, 50 % or more {np.sum(s >= .5):3d}')


def consistent(args):
    counts, pairs = Counter(), []
    for stem in images(args.masks):
        truth = load(os.path.join(args.masks, stem + '.png'))
        touching = [k for k, pixels in contacts(truth).items() if len(pixels) >= 6]
        pairs += [(stem, *k) for k in touching]
        runs = [owners(truth, load(os.path.join(p, stem + '.instances.png'))) for p in args.prediction]
        for i, j in touching:
            counts[(stem, i, j)] = sum(merged(owner, i, j) for owner in runs)
        if args.crops:
            for i, j in touching:
                if counts[(stem, i, j)] == len(runs):
                    crop(args, stem, truth, i, j)
    n = len(args.prediction)
    print(f'{len(pairs)} touching pairs; merged in k of {n} runs: ' +
          ', '.join(f'k={k}: {sum(1 for c in counts.values() if c == k)}' for k in range(n + 1)))
    for key, c in sorted(counts.items()):
        if c == n:
            stem, i, j = key
            print(f'  merged in every run: {stem} nuclei {i} and {j}')


def crop(args, stem, truth, i, j):
    os.makedirs(args.crops, exist_ok=True)
    image = np.array(Image.open(os.path.join(args.images, stem + '.png'))).astype(np.float64)
    if image.ndim == 3:
        image = image[..., :3].mean(-1)
    lo, hi = np.percentile(image, [1, 99.8])
    image = np.clip((image - lo) / max(hi - lo, 1e-6), 0, 1)
    ys, xs = np.nonzero((truth == i) | (truth == j))
    y0, y1 = max(ys.min() - 6, 0), min(ys.max() + 7, truth.shape[0])
    x0, x1 = max(xs.min() - 6, 0), min(xs.max() + 7, truth.shape[1])
    gray = np.stack([image[y0:y1, x0:x1]] * 3, -1)
    outlined = gray.copy()
    labels = truth[y0:y1, x0:x1]
    for k, colour in ((i, (1, 0, 0)), (j, (0, 1, 0))):
        inside = labels == k
        interior = inside & np.roll(inside, 1, 0) & np.roll(inside, -1, 0) & np.roll(inside, 1, 1) & np.roll(inside, -1, 1)
        outlined[inside & ~interior] = colour
    both = np.concatenate([gray, outlined], 1)
    scale = max(2, 320 // max(both.shape[:2]))
    Image.fromarray((both * 255).astype(np.uint8)).resize(
        (both.shape[1] * scale, both.shape[0] * scale), Image.NEAREST).save(os.path.join(args.crops, f'{stem}_{i}_{j}.png'))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('command', choices=['gaps', 'marked', 'consistent'])
    parser.add_argument('masks')
    parser.add_argument('prediction', nargs='+')
    parser.add_argument('--crops', help='consistent: write a picture of each pair merged in every run here')
    parser.add_argument('--images', help='consistent --crops: the images the masks label')
    args = parser.parse_args()
    if args.crops and not args.images:
        parser.error('--crops needs --images')
    {'gaps': gaps, 'marked': marked, 'consistent': consistent}[args.command](args)


if __name__ == '__main__':
    main()
