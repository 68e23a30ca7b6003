"""The Train tab's advanced settings: every training, method and model option, keyed by its setting name as
Lab.build_config takes it (`lora.r`, `freeze.last_layers`...), folded away in an accordion."""

from __future__ import annotations

import gradio as gr

from ftlab import optim
from ftlab.early_stopping import METRICS


def settings_panel() -> dict:
    """The advanced settings, keyed by their RunConfig setting name (see Lab.build_config)."""
    c = {}
    with gr.Accordion("Advanced settings", open=False, elem_id="advanced"):
        with gr.Row():
            c["max_steps"] = gr.Number(0, label="Max steps (0: use epochs)", precision=0)
            c["grad_accum"] = gr.Number(1, label="Gradient accumulation", precision=0)
            c["warmup_ratio"] = gr.Number(0.05, label="Warmup ratio", step=0.01)
            c["weight_decay"] = gr.Number(0.0, label="Weight decay", step=0.01)
            c["max_grad_norm"] = gr.Number(1.0, label="Max grad norm")
        with gr.Row():
            c["optimizer"] = gr.Dropdown(list(optim.OPTIMIZERS), value="adamw", label="Optimizer")
            c["scheduler"] = gr.Dropdown(list(optim.SCHEDULERS), value="linear", label="LR schedule")
            c["precision"] = gr.Dropdown(["auto", "fp32", "bf16", "fp16"], value="auto", label="Precision",
                                         info="auto: bf16 where the device runs it faster")
            c["seed"] = gr.Number(42, label="Seed", precision=0)
        with gr.Row():
            c["eval_every"] = gr.Number(0, label="Evaluate every N steps (0: 4 times)", precision=0)
            c["save_every"] = gr.Number(0, label="Checkpoint every N steps (0: at each eval)", precision=0)
            c["early_stopping_patience"] = gr.Number(0, label="Early stopping patience (0: off)", precision=0)
            c["early_stopping_metric"] = gr.Dropdown(list(METRICS), value="eval_loss",
                                                     label="Early stopping on")
            c["gradient_checkpointing"] = gr.Checkbox(False, label="Gradient checkpointing for every batch",
                                                      info="Much less memory, ~30% slower steps")
            c["activation_budget_mb"] = gr.Number(0, label="Activation budget (MB)",
                                                  info="Longer batches recompute activations instead of storing "
                                                       "them; 0: auto (1 GB on a CPU, ¼ of a GPU)")
        with gr.Row():
            c["lora.r"] = gr.Number(16, label="LoRA / DoRA rank r", precision=0)
            c["lora.alpha"] = gr.Number(32, label="LoRA alpha", precision=0)
            c["lora.dropout"] = gr.Number(0.0, label="LoRA dropout", step=0.05)
            c["lora.targets"] = gr.Dropdown(["all-linear", "attention"], value="all-linear", allow_custom_value=True,
                                            label="LoRA targets", info="or type module names: q_proj,v_proj")
        with gr.Row():
            c["freeze.last_layers"] = gr.Number(2, label="Freeze: train the last N layers", precision=0)
            c["quant.bits"] = gr.Radio([4, 8], value=4, label="QLoRA bits")
            c["prompt.virtual_tokens"] = gr.Number(20, label="Prefix / prompt: virtual tokens", precision=0)
            c["eval.max_new_tokens"] = gr.Number(48, label="Eval replies: max new tokens", precision=0)
        with gr.Row():
            c["eval.probes"] = gr.Textbox("", lines=3, label="Probe prompts (one per line)", elem_id="probe-prompts",
                                          info="Answered by the base and the tuned model at every evaluation; empty: "
                                               "the first 3 validation rows.")
            c["trust_remote_code"] = gr.Checkbox(False, label="Trust remote code",
                                                 info="Runs Python shipped with the model. Only for models you trust.")
    return c
