"""A merged causal LM folder (safetensors, Llama-family) as one GGUF file in f16 that llama.cpp loads and chats
with out of the box: hyperparameters, tensors under llama.cpp's names, the tokenizer, chat template and stop
tokens (ftlab.deploy.gguf_vocab). Written with the `gguf` package's GGUFWriter and TensorNameMap.

Llama and Mistral checkpoints are written as llama.cpp's `llama` architecture, whose attention expects the query
and key rows of each head interleaved the other way (`permute`, as llama.cpp's own converter does); Qwen2 keeps
its rows and its q/k/v biases. Rotary scaling: linear as two keys; YaRN as its factor and original context (`_yarn`);
Llama 3.1 / 3.2's `llama3` as the `rope_freqs.weight` tensor llama.cpp divides each rotary frequency by
(`rope_factors`). Quantized types come from llama.cpp's own quantizer (ftlab.deploy.quantize).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

ARCHITECTURES = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}
"""Hugging Face architecture -> llama.cpp architecture this writer handles."""


class NotExportable(ValueError):
    """The model can't be written as GGUF here: the reason says which part and what is supported."""


def permute(weights, n_head: int):
    """A query or key projection's rows from Hugging Face's rotary layout to llama.cpp's (per head, the two halves
    of the rotated dimensions interleaved)."""
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def architecture(config: dict) -> str:
    """llama.cpp's architecture for a config.json, or NotExportable naming what is supported."""
    names = config.get("architectures") or []
    arch = next((ARCHITECTURES[n] for n in names if n in ARCHITECTURES), None)
    if arch is None:
        raise NotExportable(f"GGUF export writes {', '.join(sorted(ARCHITECTURES))}; this model is "
                            f"{', '.join(names) or 'of no named architecture'}")
    kind = rope_kind(config)
    if kind not in (None, "default", "linear", "llama3", "yarn"):
        raise NotExportable(f"rope scaling {kind!r} is not written yet (linear, llama3 and yarn are)")
    extras = yarn_extras(rope(config)) if kind == "yarn" else []
    if extras:
        raise NotExportable(f"yarn rope scaling with {', '.join(extras)} is not written yet "
                            "(its factor and original_max_position_embeddings are)")
    return arch


YARN_DEFAULTS = {"beta_fast": 32, "beta_slow": 1, "truncate": True}
"""YaRN's settings llama.cpp takes from its own context parameters, not the file (llama-cpp-python's defaults, the
same as transformers'): another value would load and answer otherwise."""


def yarn_extras(scaling: dict) -> list[str]:
    """The YaRN settings a GGUF file here cannot carry: an explicit attention factor or DeepSeek's mscales, and betas
    or truncation other than the defaults."""
    extras = [k for k in ("attention_factor", "mscale", "mscale_all_dim") if scaling.get(k) is not None]
    return extras + [f"{k}: {scaling[k]}" for k, v in YARN_DEFAULTS.items() if scaling.get(k) not in (None, v)]


def rope(config: dict) -> dict:
    """The rotary settings: transformers 5 keeps them in `rope_parameters` (theta included), older configs in
    `rope_theta` and `rope_scaling`."""
    return {"rope_theta": config.get("rope_theta", 10000.0), **(config.get("rope_scaling") or {}),
            **(config.get("rope_parameters") or {})}


def rope_kind(config: dict) -> str | None:
    """The rotary scaling's kind (`rope_type`, or `type` in older configs); None when there is none."""
    scaling = rope(config)
    return scaling.get("rope_type", scaling.get("type"))


def rope_factors(config: dict) -> list[float] | None:
    """Llama 3's rotary scaling as the divisor of each rotary frequency (None for other kinds): frequencies whose
    wavelength is over the original context divided by `factor`, those under a `high_freq_factor`th of it kept, and
    a smooth blend between, as transformers' `_compute_llama3_parameters` computes them."""
    if rope_kind(config) != "llama3":
        return None
    scaling = rope(config)
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    factor, low, high = scaling["factor"], scaling.get("low_freq_factor", 1.0), scaling.get("high_freq_factor", 4.0)
    context = scaling.get("original_max_position_embeddings", 8192)
    out = []
    for i in range(0, head_dim, 2):
        wavelen = 2 * math.pi * scaling["rope_theta"] ** (i / head_dim)
        if wavelen < context / high:
            out.append(1.0)
        elif wavelen > context / low:
            out.append(float(factor))
        else:
            smooth = (context / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return out


def write(folder: Path, out: Path, name: str, eos_ids: list[int]) -> Path:
    """Write the merged model in `folder` as GGUF (f16 matrices, f32 norms and biases) to `out`; returns it."""
    import gguf
    import torch
    from safetensors import safe_open

    from ftlab import modeling
    from ftlab.deploy import gguf_vocab

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    arch = architecture(config)
    tok = modeling.load_tokenizer(folder)
    vocab_size = config["vocab_size"]
    writer = gguf.GGUFWriter(str(out), arch)
    _hyperparameters(writer, config, name)
    gguf_vocab.add_vocab(writer, tok, folder, vocab_size, eos_ids)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA if arch == "llama" else gguf.MODEL_ARCH.QWEN2,
                                     config["num_hidden_layers"])
    n_head, n_kv = config["num_attention_heads"], config.get("num_key_value_heads") or config["num_attention_heads"]
    for part in sorted(folder.glob("*.safetensors")):
        with safe_open(str(part), framework="pt") as f:
            for key in f.keys():
                tensor = f.get_tensor(key).to(torch.float32)
                if key == "lm_head.weight" and config.get("tie_word_embeddings"):
                    continue
                if arch == "llama" and key.endswith("q_proj.weight"):
                    tensor = permute(tensor, n_head)
                elif arch == "llama" and key.endswith("k_proj.weight"):
                    tensor = permute(tensor, n_kv)
                target = names.get_name(key, try_suffixes=(".weight", ".bias"))
                if target is None:
                    raise NotExportable(f"tensor {key} has no place in a {arch} GGUF file")
                kept = tensor.numpy() if tensor.ndim == 1 else tensor.to(torch.float16).numpy()
                writer.add_tensor(target, kept)
    factors = rope_factors(config)
    if factors:
        import numpy as np

        writer.add_tensor(gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", np.array(factors, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _hyperparameters(writer, config: dict, name: str) -> None:
    import gguf

    heads = config["num_attention_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    writer.add_name(name)
    writer.add_context_length(config.get("max_position_embeddings", 2048))
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(config.get("num_key_value_heads") or heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(config.get("rms_norm_eps", 1e-6))
    scaling = rope(config)
    writer.add_rope_freq_base(scaling["rope_theta"])
    if rope_kind(config) == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(scaling["factor"])
    elif rope_kind(config) == "yarn":
        _yarn(writer, config, scaling)
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)


def _yarn(writer, config: dict, scaling: dict) -> None:
    """YaRN as llama.cpp's own converter writes it: the factor and the original context (llama.cpp then blends the
    frequencies between its betas, 32 and 1, and sharpens attention by 0.1 ln(factor) + 1, as transformers'
    `_compute_yarn_parameters` does); a factor left out is the ratio of the two contexts, as there."""
    import gguf

    original = scaling.get("original_max_position_embeddings") or config["max_position_embeddings"]
    writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    writer.add_rope_scaling_factor(float(scaling.get("factor") or config["max_position_embeddings"] / original))
    writer.add_rope_scaling_orig_ctx_len(int(original))
