"""Training presets per task: a starting point the Train tab fills in, every value still editable.

Quick demo (CPU) finishes the bundled samples in minutes on a laptop CPU; Balanced is a sound default for real
data; Best quality spends more compute (DoRA or full fine-tuning, longer, early stopping on the eval loss).
Keys are RunConfig settings, dotted for the method sections (`lora.r`).
"""

from __future__ import annotations

PRESETS = {
    "Quick demo (CPU)": {
        "chat": {"method": "lora", "epochs": 1.0, "learning_rate": 3e-4, "batch_size": 4, "max_length": 256,
                 "lora.r": 8, "lora.alpha": 16, "scheduler": "linear"},
        "classify": {"method": "lora", "epochs": 2.0, "learning_rate": 5e-4, "batch_size": 16, "max_length": 128,
                     "lora.r": 8, "lora.alpha": 16, "scheduler": "linear"},
        "preference": {"method": "lora", "epochs": 1.0, "learning_rate": 1e-4, "batch_size": 4, "max_length": 256,
                       "lora.r": 8, "lora.alpha": 16, "scheduler": "linear"},
    },
    "Balanced": {
        "chat": {"method": "lora", "epochs": 3.0, "learning_rate": 2e-4, "batch_size": 4, "max_length": 512,
                 "lora.r": 16, "lora.alpha": 32, "scheduler": "cosine", "warmup_ratio": 0.05},
        "classify": {"method": "lora", "epochs": 4.0, "learning_rate": 5e-4, "batch_size": 16, "max_length": 256,
                     "lora.r": 16, "lora.alpha": 32, "scheduler": "cosine", "warmup_ratio": 0.05},
        "preference": {"method": "lora", "epochs": 2.0, "learning_rate": 5e-5, "batch_size": 4, "max_length": 512,
                       "lora.r": 16, "lora.alpha": 32, "scheduler": "cosine", "warmup_ratio": 0.1},
    },
    "Best quality": {
        "chat": {"method": "dora", "epochs": 5.0, "learning_rate": 1e-4, "batch_size": 8, "max_length": 1024,
                 "lora.r": 32, "lora.alpha": 64, "scheduler": "cosine", "warmup_ratio": 0.1,
                 "early_stopping_patience": 3},
        "classify": {"method": "full", "epochs": 5.0, "learning_rate": 3e-5, "batch_size": 16, "max_length": 256,
                     "scheduler": "cosine", "warmup_ratio": 0.1, "early_stopping_patience": 3},
        "preference": {"method": "dora", "epochs": 3.0, "learning_rate": 5e-5, "batch_size": 8, "max_length": 1024,
                       "lora.r": 32, "lora.alpha": 64, "scheduler": "cosine", "warmup_ratio": 0.1,
                       "early_stopping_patience": 3},
    },
}


def get(name: str, task: str) -> dict:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dict(PRESETS[name][task])
