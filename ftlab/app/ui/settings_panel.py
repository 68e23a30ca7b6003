"""The Model & method tab's advanced settings: every training, method and model option, keyed by its setting name
as Lab.build_config takes it (`lora.r`, `freeze.last_layers`...), folded away in an accordion. Each control's
label and help text are the locale key `set.<setting>` (ftlab/locales/settings.yaml)."""

from __future__ import annotations

import gradio as gr

from ftlab.train import optim
from ftlab.metrics import registry
from ftlab.app.ui.translate import tr

ROWS = [
    {"max_steps": (gr.Number, 0, {"precision": 0}), "grad_accum": (gr.Number, 1, {"precision": 0}),
     "warmup_ratio": (gr.Number, 0.05, {"step": 0.01}), "weight_decay": (gr.Number, 0.0, {"step": 0.01}),
     "max_grad_norm": (gr.Number, 1.0, {})},
    {"optimizer": (gr.Dropdown, "adamw", {"choices": list(optim.OPTIMIZERS)}),
     "scheduler": (gr.Dropdown, "linear", {"choices": list(optim.SCHEDULERS)}),
     "precision": (gr.Dropdown, "auto", {"choices": ["auto", "fp32", "bf16", "fp16"]}),
     "seed": (gr.Number, 42, {"precision": 0})},
    {"eval_every": (gr.Number, 0, {"precision": 0}), "save_every": (gr.Number, 0, {"precision": 0}),
     "early_stopping_patience": (gr.Number, 0, {"precision": 0}),
     "early_stopping_metric": (gr.Dropdown, "eval_loss", {"choices": registry.keys()}),
     "gradient_checkpointing": (gr.Checkbox, False, {}), "activation_budget_mb": (gr.Number, 0, {})},
    {"lora.r": (gr.Number, 16, {"precision": 0}), "lora.alpha": (gr.Number, 32, {"precision": 0}),
     "lora.dropout": (gr.Number, 0.0, {"step": 0.05}),
     "lora.targets": (gr.Dropdown, "all-linear", {"choices": ["all-linear", "attention"], "allow_custom_value": True})},
    {"freeze.last_layers": (gr.Number, 2, {"precision": 0}), "quant.bits": (gr.Radio, 4, {"choices": [4, 8]}),
     "prompt.virtual_tokens": (gr.Number, 20, {"precision": 0}),
     "eval.max_new_tokens": (gr.Number, 48, {"precision": 0})},
    {"preference.loss": (gr.Dropdown, "orpo", {"choices": ["orpo", "dpo", "ipo", "kto"], "elem_id": "preference-loss"}),
     "preference.beta": (gr.Number, 0.1, {"step": 0.05, "elem_id": "preference-beta"}),
     "classify.head_init": (gr.Dropdown, "random", {"choices": ["random", "probe"], "elem_id": "head-init"})},
    {"eval.probes": (gr.Textbox, "", {"lines": 3, "elem_id": "probe-prompts"}),
     "trust_remote_code": (gr.Checkbox, False, {"elem_id": "trust-remote-code"})},
]
"""Setting name -> (component, default, its other arguments), a row of the panel per dict."""


def settings_panel(hidden: set[str] = frozenset()) -> dict:
    """The advanced settings, keyed by their RunConfig setting name (see Lab.build_config); those of `hidden`
    sections (`quant`: the settings of a method not chosen) start hidden."""
    controls = {}
    with tr("set.panel", gr.Accordion, open=False, elem_id="advanced"):
        for row in ROWS:
            with gr.Row():
                for name, (factory, default, extra) in row.items():
                    controls[name] = tr(f"set.{name}", factory, value=default, visible=name.split(".")[0] not in hidden,
                                        **extra)
    return controls
