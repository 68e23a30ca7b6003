"""GGUF quantization by llama.cpp's own quantizer (llama_model_quantize through llama-cpp-python): the same code
llama.cpp's `llama-quantize` runs, so a file quantized here is what llama.cpp users make themselves.

Matrices whose rows do not divide into a type's blocks (k-quants need 256 columns) get llama.cpp's fallback type for
them, as llama-quantize does.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

TYPES = {"f16": 1, "q8_0": 7, "q4_0": 2, "q4_k_m": 15}
"""The GGUF types ftlab exports -> llama.cpp's llama_ftype."""


def quantize(src: Path, dst: Path, kind: str) -> Path:
    """Write `src` (an f16 GGUF) quantized to `kind` (a key of TYPES) as `dst`; RuntimeError if llama.cpp fails."""
    if kind not in TYPES:
        raise ValueError(f"GGUF type {kind!r}: one of {', '.join(TYPES)}")
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = TYPES[kind]
    params.nthread = os.cpu_count() or 1
    code = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if code != 0 or not dst.is_file():
        raise RuntimeError(f"llama.cpp could not quantize {src.name} to {kind} (code {code})")
    return dst
