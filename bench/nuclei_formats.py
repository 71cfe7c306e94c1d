#!/usr/bin/python3
"""A nuclei split (bench/nuclei_split.py's OUT) written again in the formats of a 16-bit microscope set such as
BBBC039 (Caicedo et al., Cytometry A 95, 2019): images as 16-bit TIFF holding a 12-bit range, masks as colour-coded
RGB PNG in which touching nuclei have different colours and nuclei apart may share one.

What it checks: that `unet train` reads those formats to the same training as the 8-bit PNGs and 16-bit id masks
nuclei_split.py writes. Each image's 8-bit value v becomes 16 v + 40 (a dim 12-bit image in a 16-bit file), which
per-image percentile normalisation maps back to the same values; each nucleus gets the first colour of a fixed
palette that none of the nuclei it touches along a side has (nuclei_pairs.py's contacts), so `--mask-kind instances`,
which takes each 4-connected region of one colour as an object, reads every nucleus that is one such region as the same
object. Prints the count of nuclei that are not (their pieces become objects of their own when read back) and how many
colours were used.

usage: bench/nuclei_formats.py SPLIT OUT
SPLIT: a folder with train/ and validation/, each with images/ (8-bit gray PNG) and masks/ (16-bit id PNG).
OUT: the same folders, images/{id}.tif and masks/{id}.png.
Needs python3-pil, python3-numpy and python3-scipy.
"""

import argparse
import os
import sys

import numpy
from PIL import Image
from scipy import ndimage

from nuclei_pairs import contacts

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255)]


def colour_coded(labels):
    """The ids as an RGB image, greedy-coloured so that touching ids differ; the number of colours used."""
    touching = {}
    for i, j in contacts(labels):
        touching.setdefault(int(i), set()).add(int(j))
        touching.setdefault(int(j), set()).add(int(i))
    colour_of = {}
    for label in range(1, int(labels.max()) + 1):
        taken = {colour_of.get(n) for n in touching.get(label, ())}
        colour_of[label] = next(c for c in range(len(PALETTE)) if c not in taken)
    table = numpy.zeros((int(labels.max()) + 1, 3), dtype=numpy.uint8)
    for label, colour in colour_of.items():
        table[label] = PALETTE[colour]
    return table[labels], len(set(colour_of.values()))


def pieces(labels):
    """How many ids are not one 4-connected region."""
    count = 0
    for label, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is not None and ndimage.label(labels[box] == label)[1] > 1:
            count += 1
    return count


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("split")
    parser.add_argument("out")
    args = parser.parse_args(argv)
    for part in ("train", "validation"):
        nuclei = broken = colours = 0
        for kind in ("images", "masks"):
            os.makedirs(os.path.join(args.out, part, kind), exist_ok=True)
        for name in sorted(os.listdir(os.path.join(args.split, part, "images"))):
            stem = os.path.splitext(name)[0]
            with Image.open(os.path.join(args.split, part, "images", name)) as image:
                gray = numpy.asarray(image.convert("L"), dtype=numpy.uint16)
            Image.fromarray(gray * 16 + 40).save(os.path.join(args.out, part, "images", stem + ".tif"))
            with Image.open(os.path.join(args.split, part, "masks", name)) as mask:
                labels = numpy.asarray(mask, dtype=numpy.int32)
            coded, used = colour_coded(labels)
            Image.fromarray(coded, mode="RGB").save(os.path.join(args.out, part, "masks", stem + ".png"))
            nuclei += int(labels.max())
            broken += pieces(labels)
            colours = max(colours, used)
        print(f"{part}: {nuclei} nuclei, {broken} not one 4-connected region, at most {colours} colours in an image")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
