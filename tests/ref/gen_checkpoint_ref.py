#!/usr/bin/python3
"""A safetensors file from a writer other than nde's, for tests/test_checkpoint.c:
  /usr/bin/python3 tests/ref/gen_checkpoint_ref.py tests/ref/foreign_model.safetensors

The `safetensors` package is not installed on Debian 12, so this is a transcription of
its format writer (huggingface/safetensors: 8-byte little-endian header length, JSON
header padded with spaces to a multiple of 8, tensors sorted by dtype alignment then
name, "__metadata__" as transformers writes it), fed with torch tensors' raw bytes.
  w: F32 (2, 3) = 0.5 i - 1,  b: F64 (3,) = [0.1, -0.2, 0.3]
"""
import json
import struct
import sys

import torch

DTYPES = {torch.float64: ("F64", 8), torch.float32: ("F32", 4)}


def save_file(tensors, path, metadata=None):
    items = sorted(tensors.items(), key=lambda kv: (-DTYPES[kv[1].dtype][1], kv[0]))
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, t in items:
        raw = t.contiguous().numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype][0], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


if __name__ == "__main__":
    w = (0.5 * torch.arange(6, dtype=torch.float32) - 1).reshape(2, 3)
    b = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)
    save_file({"w": w, "b": b}, sys.argv[1], metadata={"format": "pt"})
