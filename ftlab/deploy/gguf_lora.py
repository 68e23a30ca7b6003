"""A LoRA run's adapter alone as a GGUF LoRA adapter, for people who keep the base model's GGUF: llama.cpp applies
it on top (`llama-cli -m base.gguf --lora adapter.gguf`, or Ollama's ADAPTER line).

Each PEFT pair (lora_A: rank x in, lora_B: out x rank) becomes `<llama.cpp tensor>.lora_a` / `.lora_b`, with
`adapter.lora.alpha` so that llama.cpp's scale (alpha / rank) is PEFT's (alpha / rank, or alpha / sqrt(rank) for
rsLoRA). In the `llama` architecture B's rows of the query and key projections are permuted as the base weights
are (ftlab.deploy.gguf_file.permute). DoRA's magnitude vectors have no GGUF adapter form: merge those instead.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ftlab.deploy.gguf_file import NotExportable, architecture, permute


def write_adapter(adapter: Path, base_config: dict, out: Path, name: str) -> Path:
    """Write the PEFT LoRA adapter folder `adapter` (over a base with `base_config`) as a GGUF adapter `out`."""
    import gguf
    import torch
    from safetensors.torch import load_file

    peft = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    if peft.get("peft_type") != "LORA" or peft.get("use_dora"):
        raise NotExportable("llama.cpp takes LoRA adapters only (not DoRA, IA3 or prompt learning): export the "
                            "merged model as GGUF instead")
    arch = architecture(base_config)
    rank, alpha = peft["r"], float(peft["lora_alpha"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA if arch == "llama" else gguf.MODEL_ARCH.QWEN2,
                                     base_config["num_hidden_layers"])
    heads = base_config["num_attention_heads"]
    kv_heads = base_config.get("num_key_value_heads") or heads
    state = load_file(str(adapter / "adapter_model.safetensors"))
    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_name(name)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha * math.sqrt(rank) if peft.get("use_rslora") else alpha)
    pairs = 0
    for key in sorted(k for k in state if ".lora_A." in k):
        stem = key.split(".lora_A.")[0].removeprefix("base_model.model.")
        target = names.get_name(stem + ".weight", try_suffixes=(".weight",))
        if target is None:
            raise NotExportable(f"the adapter changes {stem}, which has no place in a {arch} GGUF file")
        a = state[key].to(torch.float32)
        b = state[key.replace(".lora_A.", ".lora_B.")].to(torch.float32)
        if arch == "llama" and stem.endswith(("q_proj", "k_proj")):
            b = permute(b, heads if stem.endswith("q_proj") else kv_heads)
        writer.add_tensor(target + ".lora_a", a.numpy())
        writer.add_tensor(target + ".lora_b", b.numpy())
        pairs += 1
    if not pairs or any(".lora_A." not in k and ".lora_B." not in k for k in state):
        extra = sorted(k for k in state if ".lora_A." not in k and ".lora_B." not in k)[:3]
        raise NotExportable(f"the adapter holds more than LoRA pairs ({', '.join(extra) or 'none at all'}): "
                            "export the merged model as GGUF instead")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
