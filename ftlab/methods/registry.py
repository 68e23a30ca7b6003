"""Fine-tuning methods, one small class each, in one registry.

A method says how to load the base (quantised or not), how to make it trainable, which parameter groups the
optimizer gets, how the base model is seen while its run evaluates, what of it the memory estimate and the base
evaluation's fingerprint depend on, and whether the result is an adapter (one copy of the base, switched off and
on for comparison) or a full set of weights. Prompt-learning methods (prefix, prompt, P-tuning) also tell
inference to decode without a KV cache: their virtual tokens are added on every forward pass. Nothing outside
this package tests a method's name or class. A new method is a class (here, or in a module of its own) and one
`register(...)` line.
"""

from __future__ import annotations

import importlib.util
import math
from contextlib import contextmanager, nullcontext

from ftlab import tasks

HEAD_NAMES = ("lm_head", "score", "classifier", "pooler", "norm", "final_layer_norm", "ln_f")


class Method:
    name = ""
    label = ""
    help = ""
    adapter = False
    """True when the method trains an adapter on a frozen base (saved to adapter/), False for full weights."""
    prompt_learning = False
    settings: tuple[str, ...] = ()
    """The sections of settings it reads (ftlab.methods.settings: `lora`, `quant`...): shown and checked for it."""

    def unavailable(self) -> str:
        """Why this method cannot run on this machine ('' when it can)."""
        return ""

    def quantization(self, cfg, compute_dtype):
        """A transformers quantization config for loading the base, or None."""
        return None

    def apply(self, model, cfg):
        """Make `model` trainable for this method and return it."""
        raise NotImplementedError

    def continue_from(self, model, folder, cfg):
        """Make `model` trainable from an earlier run's result: its adapter in `folder` (loaded trainable), or,
        for a method that trains the weights themselves, the run's weights already loaded as `model`."""
        if not self.adapter:
            return self.apply(model, cfg)
        from peft import PeftModel

        return PeftModel.from_pretrained(model, folder, is_trainable=True)

    def apply_to_estimate(self, model, cfg):
        """`apply` on a model built on the meta device (no weights), for the estimate before Start."""
        return self.apply(model, cfg)

    def weight_bytes(self, cfg) -> float:
        """Bytes each frozen base weight takes in memory (fp32: 4)."""
        return 4

    def load_facts(self, cfg) -> dict | None:
        """What of the run's settings changes how the base model loads (quantization): a base evaluation made
        with other facts is not this run's."""
        return None

    def param_groups(self, model, cfg) -> list[dict]:
        """The optimizer's parameter groups: every trainable parameter at the run's learning rate. A method may
        give some parameters a rate of their own (a group with "lr"), as LoRA+ does for the B matrices."""
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]

    @property
    def shares_base(self) -> bool:
        """Whether its runs attach to one loaded copy of their base for serving (switched on per request)."""
        return self.adapter and not self.prompt_learning

    def reference_view(self, model):
        """(model, context) that answer as a preference run's reference: the model as training starts (a new LoRA,
        DoRA or IA3 adapter changes nothing yet; full and freeze have not moved); prompt learning's virtual tokens
        change the answers from the start, so its reference is the base without them."""
        return self.base_view(model) if self.prompt_learning else (model, nullcontext)

    def base_view(self, model):
        """(model to call, context) that answer as the base model while the run evaluates: for a method that
        trains the weights themselves (full, freeze), the model before its first step."""
        from peft import PeftModel

        if not isinstance(model, PeftModel):
            return model, nullcontext
        if self.prompt_learning:
            return model.get_base_model(), lambda: saved_heads_off(model)
        return model, model.disable_adapter


@contextmanager
def saved_heads_off(model):
    """Switch off the trained copies of modules a PEFT model saves whole (a classifier head), so the base model's
    own modules answer. PEFT's disable_adapter does this too, but fails for prompt-learning classifiers."""
    from peft.utils.other import ModulesToSaveWrapper

    wrappers = [m for m in model.modules() if isinstance(m, ModulesToSaveWrapper)]
    for wrapper in wrappers:
        wrapper.enable_adapters(False)
    try:
        yield
    finally:
        for wrapper in wrappers:
            wrapper.enable_adapters(True)


class Full(Method):
    name, label = "full", "Full fine-tuning"
    help = "Updates every weight. Best quality, most memory (weights + gradients + 2 optimizer states)."

    def apply(self, model, cfg):
        for param in model.parameters():
            param.requires_grad_(True)
        return model


def transformer_blocks(model) -> tuple[str, list]:
    """(qualified name, blocks) of the model's stack of transformer blocks: its longest ModuleList."""
    import torch

    lists = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.ModuleList) and len(m)]
    if not lists:
        raise ValueError("this model has no stack of transformer blocks to freeze")
    return max(lists, key=lambda item: len(item[1]))


class Freeze(Method):
    name, label = "freeze", "Freeze (last N layers)"
    settings = ("freeze",)
    help = "Trains only the last N transformer blocks and the head; the rest stays as it was. Mid memory."

    def apply(self, model, cfg):
        prefix, blocks = transformer_blocks(model)
        keep = min(cfg.freeze.last_layers, len(blocks))
        trained = {id(p) for block in list(blocks)[-keep:] for p in block.parameters()}
        embeddings = {id(p) for p in model.get_input_embeddings().parameters()}
        for name, param in model.named_parameters():
            outside = not name.startswith(prefix + ".") and "embed" not in name
            head = outside and id(param) not in embeddings and any(h in name.split(".") for h in HEAD_NAMES)
            param.requires_grad_(id(param) in trained or head)
        return model


class Lora(Method):
    name, label, adapter = "lora", "LoRA", True
    settings = ("lora",)
    help = "Freezes the base and trains small low-rank updates. A few MB to save, little memory."
    dora = False

    def peft_config(self, cfg, model):
        from peft import LoraConfig

        return LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                          target_modules=lora_targets(model, cfg.lora.targets), use_dora=self.dora,
                          task_type=tasks.get(cfg.task).peft_type)

    def apply(self, model, cfg):
        from peft import get_peft_model

        return get_peft_model(model, self.peft_config(cfg, model))


def lora_targets(model, targets: str):
    """`all-linear`, the attention projections (`attention`), or the user's comma-separated module names."""
    import torch

    targets = targets.strip()
    if targets == "all-linear":
        return targets
    if targets == "attention":
        names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)
                 and any(part in ("attn", "self_attn", "attention", "self") for part in n.split(".")[:-1])]
        if not names:
            raise ValueError("lora.targets=attention: found no linear layers inside attention blocks; "
                             "name the modules instead (e.g. q_proj,v_proj)")
        return names
    names = [t.strip() for t in targets.split(",") if t.strip()]
    linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
    unknown = [n for n in names if n not in linear]
    if unknown or not names:
        raise ValueError(f"lora.targets: {', '.join(unknown) or 'nothing named'} is not a linear layer of this model;"
                         f" its linear layers are {', '.join(linear)} (or use all-linear / attention)")
    return names


class Dora(Lora):
    name, label, dora = "dora", "DoRA", True
    help = "LoRA that also learns each weight's magnitude: often closer to full fine-tuning; ~30% slower steps."


class QLora(Lora):
    name, label = "qlora", "QLoRA (4-bit NF4 or 8-bit)"
    settings = ("lora", "quant")
    help = "LoRA on a base quantised to 4-bit NF4 (or 8-bit): the least memory; a little slower per step."

    def unavailable(self) -> str:
        if importlib.util.find_spec("bitsandbytes") is None:
            return "needs the bitsandbytes package"
        return ""

    def quantization(self, cfg, compute_dtype):
        import torch
        from transformers import BitsAndBytesConfig

        skip = {"llm_int8_skip_modules": list(HEAD_NAMES)} if tasks.get(cfg.task).labelled else {}  # heads stay float
        if cfg.quant.bits == 8:
            return BitsAndBytesConfig(load_in_8bit=True, **skip)
        dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                  bnb_4bit_use_double_quant=cfg.quant.double_quant,
                                  bnb_4bit_compute_dtype=dtypes.get(cfg.quant.compute_dtype, compute_dtype), **skip)

    def apply(self, model, cfg):
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        return super().apply(model, cfg)

    def continue_from(self, model, folder, cfg):
        from peft import prepare_model_for_kbit_training

        return super().continue_from(prepare_model_for_kbit_training(model, use_gradient_checkpointing=False),
                                     folder, cfg)

    def apply_to_estimate(self, model, cfg):
        return super().apply(model, cfg)  # a meta model has nothing to quantize: the LoRA layers alone

    def weight_bytes(self, cfg) -> float:
        return 0.5 if cfg.quant.bits == 4 else 1

    def load_facts(self, cfg) -> dict | None:
        return vars(cfg.quant)


class IA3(Method):
    name, label, adapter = "ia3", "IA3", True
    help = "Learns a scaling vector for keys, values and the feed-forward: the fewest parameters of all."

    def apply(self, model, cfg):
        from peft import IA3Config, get_peft_model
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING as TARGETS

        model_type = model.config.model_type
        if model_type not in TARGETS:
            raise ValueError(f"IA3 does not know which layers to scale in a {model_type} model; try LoRA")
        return get_peft_model(model, IA3Config(task_type=tasks.get(cfg.task).peft_type))


class PromptLearning(Method):
    """Virtual tokens trained in front of the input (PEFT's prompt-learning configs): `peft_config` names which."""
    adapter, prompt_learning, settings = True, True, ("prompt",)
    peft_config = ""

    def extra(self, model, cfg) -> dict:
        """The PEFT config's arguments beyond the task type and the number of virtual tokens."""
        return {}

    def apply(self, model, cfg):
        import peft

        config = getattr(peft, self.peft_config)(task_type=tasks.get(cfg.task).peft_type,
                                                 num_virtual_tokens=cfg.prompt.virtual_tokens, **self.extra(model, cfg))
        return peft.get_peft_model(model, config)


class PrefixTuning(PromptLearning):
    name, label, peft_config = "prefix", "Prefix tuning (P-tuning v2)", "PrefixTuningConfig"
    help = "Trains virtual key/value tokens in every layer (P-tuning v2); the model itself is untouched."


class PromptTuning(PromptLearning):
    name, label, peft_config = "prompt", "Prompt tuning", "PromptTuningConfig"
    help = "Trains a few virtual tokens prepended to the input; the smallest adapter, best on larger models."

    def extra(self, model, cfg) -> dict:
        from peft import PromptTuningInit

        text = cfg.prompt.init_text.strip()
        return {"prompt_tuning_init": PromptTuningInit.TEXT, "prompt_tuning_init_text": text,
                "tokenizer_name_or_path": str(model.name_or_path)} if text else {}


class PTuning(PromptLearning):
    name, label, peft_config = "ptuning", "P-tuning", "PromptEncoderConfig"
    help = "Virtual tokens produced by a small trained encoder (MLP), prepended to the input."

    def extra(self, model, cfg) -> dict:
        return {"encoder_hidden_size": model.config.hidden_size}


METHODS: dict[str, Method] = {m.name: m for m in (Lora(), QLora(), Dora(), IA3(), PrefixTuning(), PromptTuning(),
                                                  PTuning(), Freeze(), Full())}


def register(method: Method) -> Method:
    """Make `method` known by its name (config validation, the UI's choices, `get`)."""
    METHODS[method.name] = method
    return method


def get(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def trainable_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts; a 4-bit weight packs two values in each stored byte, so it counts
    for its real shape, not its storage."""
    def count(p) -> int:
        shape = getattr(getattr(p, "quant_state", None), "shape", None)
        return int(math.prod(shape)) if shape is not None else p.numel()

    trainable = sum(count(p) for p in model.parameters() if p.requires_grad)
    return trainable, sum(count(p) for p in model.parameters())
