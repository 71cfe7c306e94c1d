#!/usr/bin/env python3
"""A plain PyTorch U-Net with UNetCluster's layer plan and state-dict keys (src/Model/Modules/*.cs).

Loads a model.safetensors written by UNetCluster with strict key matching and writes the logits for an input,
so that a test can check that PyTorch users get the same network from our weights:

    unet_reference.py MODEL.safetensors INPUT.safetensors OUTPUT.safetensors --depth 2 --base-channels 16 \
        [--input-channels 1] [--classes 2]

Only the paper's plan is mirrored: unpadded 3x3 convolutions + ReLU, 2x2 max-pool, 2x2 transposed convolutions,
centre crop and concatenation (skip first), 1x1 head. The safetensors format is parsed here with json + struct
(the `safetensors` package is not needed): an 8-byte little-endian header length, a JSON header, the raw data.
"""
import argparse
import json
import struct

import torch
from torch import nn

DTYPES = {"F32": torch.float32, "I64": torch.int64}
NAMES = {torch.float32: "F32", torch.int64: "I64"}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    start = 8 + length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buffer = bytearray(data[start + begin:start + end])
        tensors[name] = torch.frombuffer(buffer, dtype=DTYPES[info["dtype"]]).reshape(info["shape"]).clone()
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        raw = tensor.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": NAMES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    encoded = json.dumps(header).encode("utf-8")
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for raw in blobs:
            f.write(raw)


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, kernel_size=3, padding=0)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, kernel_size=3, padding=0)
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu2(self.conv2(self.relu1(self.conv1(x))))


class Down(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x):
        return self.conv(self.pool(x))


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, kernel_size=2, stride=2)
        self.conv = DoubleConv(cout * 2, cout)

    def forward(self, x, skip):
        x = self.up(x)
        top = (skip.shape[2] - x.shape[2]) // 2
        left = (skip.shape[3] - x.shape[3]) // 2
        cropped = skip[:, :, top:top + x.shape[2], left:left + x.shape[3]]
        return self.conv(torch.cat([cropped, x], dim=1))


class OutConv(nn.Module):
    def __init__(self, cin, classes):
        super().__init__()
        self.conv = nn.Conv2d(cin, classes, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, depth, base, input_channels, classes):
        super().__init__()
        channels = [base << level for level in range(depth + 1)]
        self.inc = DoubleConv(input_channels, channels[0])
        self.downs = nn.ModuleList([Down(channels[level - 1], channels[level]) for level in range(1, depth + 1)])
        self.ups = nn.ModuleList([Up(channels[level], channels[level - 1]) for level in range(depth, 0, -1)])
        self.outc = OutConv(channels[0], classes)

    def forward(self, x):
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips[-1]
        for i, up in enumerate(self.ups):
            x = up(x, skips[len(skips) - 2 - i])
        return self.outc(x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--depth", type=int, required=True)
    parser.add_argument("--base-channels", type=int, required=True)
    parser.add_argument("--input-channels", type=int, default=1)
    parser.add_argument("--classes", type=int, default=2)
    args = parser.parse_args()

    net = UNet(args.depth, args.base_channels, args.input_channels, args.classes)
    net.load_state_dict(read_safetensors(args.model), strict=True)  # every key, both ways, with matching shapes
    net.eval()
    with torch.no_grad():
        output = net(read_safetensors(args.input)["input"])
    write_safetensors(args.output, {"output": output})
    print(f"torch {torch.__version__}: {len(net.state_dict())} tensors loaded, output {tuple(output.shape)}")


if __name__ == "__main__":
    main()
