#!/usr/bin/python3
"""Where a nuclei run's merges are: every predicted object that holds more than half of each of two or more true
nuclei, with the sizes of the nuclei it holds (bench/README.md, issue 16, "Contact weights between 1 and the balance").

usage: bench/nuclei_merges.py PREDICTIONS MASKS
PREDICTIONS: a `unet predict` output folder ({id}.instances.png, 16-bit object labels).
MASKS: the held-out instance masks ({id}.png, 16-bit, 0 = background, one id per nucleus).
Prints one line per merging prediction: image id, nuclei held, predicted area (px), its largest distance to its own
edge (px), the held nuclei's areas; then the totals. Needs python3-pil, python3-numpy and python3-scipy.
"""

import glob
import os
import sys

import numpy as np
from PIL import Image
from scipy import ndimage


def merges(predicted, truth):
    """(nuclei held, area, largest inner distance, held nuclei's areas) of each prediction that holds two or more."""
    areas = np.bincount(truth.ravel())
    found = []
    for label in np.unique(predicted):
        if label == 0:
            continue
        inside = predicted == label
        ids, counts = np.unique(truth[inside], return_counts=True)
        held = [int(i) for i, c in zip(ids, counts) if i != 0 and c > 0.5 * areas[i]]
        if len(held) >= 2:
            depth = ndimage.distance_transform_edt(np.pad(inside, 1)).max()
            found.append((len(held), int(inside.sum()), round(float(depth), 1), [int(areas[i]) for i in held]))
    return found


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    predictions, masks = sys.argv[1], sys.argv[2]
    total_predictions = total_nuclei = 0
    for path in sorted(glob.glob(os.path.join(masks, "*.png"))):
        stem = os.path.basename(path)[:-4]
        labels = os.path.join(predictions, stem + ".instances.png")
        if not os.path.exists(labels):
            sys.exit(f"{labels} is missing: expected the instance labels of `unet predict` for every mask in {masks}.")
        truth = np.array(Image.open(path)).astype(np.int64)
        predicted = np.array(Image.open(labels)).astype(np.int64)
        for held, area, depth, sizes in merges(predicted, truth):
            print(stem[:8], held, area, depth, sizes)
            total_predictions += 1
            total_nuclei += held
    print(f"{total_predictions} predictions merge {total_nuclei} nuclei")


if __name__ == "__main__":
    main()
