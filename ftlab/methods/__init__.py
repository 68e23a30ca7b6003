"""Fine-tuning methods (full, freeze, LoRA, DoRA, QLoRA, IA3, prefix, prompt, P-tuning): how each loads the base,
makes it trainable and saves its result; the registry names them (ftlab.methods.registry).

It may import ftlab.config, ftlab.modeling and ftlab.tasks (a task's PEFT type); never training, evaluation,
serving or the app. `from ftlab import methods` gives the registry's API (`methods.get`, `methods.register`, ...)."""

from ftlab.methods.registry import (METHODS, Dora, Freeze, Full, IA3, Lora, Method, PrefixTuning,  # noqa: F401
                                    PromptTuning, PTuning, QLora, get, register, saved_heads_off,
                                    trainable_parameters)
