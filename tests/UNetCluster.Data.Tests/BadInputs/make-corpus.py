#!/usr/bin/env python3
"""Writes the bad-input corpus next to this script: small PNG and TIFF files, each damaged or hostile in one way.

The files are committed; this script documents how each was made and rewrites them byte for byte (python3, standard
library only). BadInputCorpusTests reads every file through ImageReader and checks the message fragment that
expected.tsv gives for it, so that each stays refused. To add a case: add it here and to expected.tsv, and run
    python3 tests/UNetCluster.Data.Tests/BadInputs/make-corpus.py
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind, data, crc=None):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) if crc is None else crc)


def ihdr(width, height, depth=8, colour=0, interlace=0):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width & 0xFFFFFFFF, height, depth, colour, 0, 0, interlace))


def rows(width, height, bytes_per_pixel=1):
    """Filtered rows of a small ramp: filter byte 0, then the samples."""
    return b"".join(bytes([0]) + bytes((x * 16 + y) % 256 for x in range(width * bytes_per_pixel)) for y in range(height))


def png(*chunks):
    return SIGNATURE + b"".join(chunks)


def good_png(width=4, height=4):
    return png(ihdr(width, height), chunk(b"IDAT", zlib.compress(rows(width, height))), chunk(b"IEND", b""))


def flip_crc(data, kind):
    """Flips the low bit of the CRC of the first chunk of this kind."""
    at = data.index(kind) - 4
    length = struct.unpack(">I", data[at:at + 4])[0]
    crc_at = at + 8 + length + 3
    return data[:crc_at] + bytes([data[crc_at] ^ 1]) + data[crc_at + 1:]


def tiff(pages):
    """A little-endian baseline 8-bit gray TIFF, one IFD per page and 16 zero bytes of image data each; a page is
    (width, height) for one strip, or (width, height, tile_width, tile_height) for one tile."""
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    for index, page in enumerate(pages):
        width, height = page[0], page[1]
        entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (277, 3, 1)]
        if len(page) == 4:
            entries += [(322, 4, page[2]), (323, 4, page[3]), (324, 4, 0), (325, 4, 16)]
        else:
            entries += [(273, 4, 0), (278, 4, height), (279, 4, 16)]
        entries.sort()
        out += struct.pack("<H", len(entries))
        offsets_at = []
        for tag, kind, value in entries:
            if tag in (273, 324):
                offsets_at.append(len(out) + 8)
            out += struct.pack("<HHI", tag, kind, 1)
            out += struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        next_at = len(out)
        out += struct.pack("<I", 0)
        page_data = len(out)
        out += bytes(16)
        for at in offsets_at:
            struct.pack_into("<I", out, at, page_data)
        if index + 1 < len(pages):
            struct.pack_into("<I", out, next_at, len(out))
    return bytes(out)


def corpus():
    good = good_png()
    idat = zlib.compress(rows(4, 4))
    adler_wrong = idat[:-1] + bytes([idat[-1] ^ 1])
    yield "png-huge-ihdr-20000x20000.png", png(ihdr(20000, 20000), chunk(b"IDAT", zlib.compress(bytes(20001))), chunk(b"IEND", b""))
    yield "png-huge-ihdr-2147483647x1.png", png(ihdr(2147483647, 1), chunk(b"IDAT", zlib.compress(bytes(8))), chunk(b"IEND", b""))
    yield "png-negative-width.png", png(ihdr(-2147483648, 4), chunk(b"IDAT", idat), chunk(b"IEND", b""))
    yield "png-wrong-crc-ihdr.png", flip_crc(good, b"IHDR")
    yield "png-wrong-crc-idat.png", flip_crc(good, b"IDAT")
    yield "png-wrong-crc-iend.png", flip_crc(good, b"IEND")
    yield "png-wrong-adler32.png", png(ihdr(4, 4), chunk(b"IDAT", adler_wrong), chunk(b"IEND", b""))
    yield "png-image-data-short.png", png(ihdr(4, 4), chunk(b"IDAT", zlib.compress(rows(4, 3))), chunk(b"IEND", b""))
    yield "png-image-data-long.png", png(ihdr(4, 4), chunk(b"IDAT", zlib.compress(rows(4, 5))), chunk(b"IEND", b""))
    yield "png-image-data-not-zlib.png", png(ihdr(4, 4), chunk(b"IDAT", idat[2:]), chunk(b"IEND", b""))
    yield "png-image-data-broken-deflate.png", png(ihdr(4, 4), chunk(b"IDAT", b"\x78\x9c" + b"\xff" * 12), chunk(b"IEND", b""))
    yield "png-no-idat.png", png(ihdr(4, 4), chunk(b"IEND", b""))
    yield "png-no-iend.png", png(ihdr(4, 4), chunk(b"IDAT", idat))
    yield "png-chunk-longer-than-file.png", png(ihdr(4, 4), struct.pack(">I", 0x7FFFFFF0) + b"IDAT" + idat)
    yield "png-cut-in-header.png", good[:20]
    yield "png-colour-type-5.png", png(ihdr(4, 4, colour=5), chunk(b"IDAT", idat), chunk(b"IEND", b""))
    yield "png-palette-without-plte.png", png(ihdr(4, 4, colour=3), chunk(b"IDAT", idat), chunk(b"IEND", b""))
    yield "png-1-bit.png", png(ihdr(8, 1, depth=1), chunk(b"IDAT", zlib.compress(b"\x00\x55")), chunk(b"IEND", b""))
    yield "png-interlace-method-2.png", png(ihdr(4, 4, interlace=2), chunk(b"IDAT", idat), chunk(b"IEND", b""))
    yield "png-empty.png", b""
    yield "png-text.png", b"This is a note, not an image.\n"
    yield "tiff-huge-20000x20000.tif", tiff([(20000, 20000)])
    yield "tiff-stack-page-1-huge.tif", tiff([(4, 4), (20000, 20000)])
    yield "tiff-stack-5-pages-16384x16384.tif", tiff([(16384, 16384)] * 5)
    yield "tiff-tile-65536x65536.tif", tiff([(16, 16, 65536, 65536)])
    yield "tiff-tile-4096x4096-for-16x16.tif", tiff([(16, 16, 4096, 4096)])
    yield "tiff-zero-width.tif", tiff([(0, 4)])


if __name__ == "__main__":
    for name, data in corpus():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        print(f"{len(data):6d}  {name}")
