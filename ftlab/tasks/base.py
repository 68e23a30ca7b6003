"""The Task seam: everything that differs between tasks (chat, classify, ...) is a method of its Task object.

The engine asks the task of a run (`ftlab.tasks.get(cfg.task)`) how to encode a row, what the loss of a batch is,
what a step's batches are weighted by, what the validation split asks (`Cases`), how a model answers, which
metrics an evaluation gives, how a probe answer reads, and what the base-vs-tuned report holds. It never tests a
task's name. A new task is one module with a Task subclass (plus its locale texts) and one `register` line.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Cases:
    """What the validation split asks."""

    texts: list[str] = field(default_factory=list)
    """What a person reads: the text to classify, or the last user turn."""
    references: list = field(default_factory=list)
    """What a right answer is: label ids (classification) or the reference replies (chat)."""
    prompts: list = field(default_factory=list)
    """What the model is given: (text, text_pair) pairs to classify, or the conversation up to the reply."""


def nobody(done: int) -> None:
    """No one is told of progress."""


class Task:
    """A task's defaults and behaviour. Subclasses set the attributes and implement the methods that raise."""

    name = ""
    default_model = ""
    """The base model a run of this task starts from unless the person picks another."""
    defaults: dict = {}
    """Settings a run of this task starts with (epochs, learning_rate, batch_size, max_length)."""
    model_kind = "causal_lm"
    """What modeling.load_model builds: "causal_lm", or "sequence_classification" (a head sized to the labels)."""
    peft_type = "CAUSAL_LM"
    """PEFT's task type for this task's adapters."""
    labelled = False
    """Its rows carry labels that size a new head: the head is seeded, kept in float under 4-bit quantization,
    and part of what a base evaluation depends on."""
    key_metric = "eval_loss"
    """The metric the runs list shows for a run of this task."""
    try_out = "chat"
    """Which try-out panel and API answer with it: "chat" (replies) or "classify" (labels with probabilities)."""
    formats: tuple = ()
    """Data formats this task brings (ftlab.data.formats.Format); the built-in ones are declared there."""
    answers_in_loss = False
    """Its loss pass answers every validation case (`eval_loss`'s predictions are the answers, in the cases'
    order): an evaluation asks the model no second time."""
    settings: tuple[str, ...] = ()
    """The RunConfig sections of its own it reads (ftlab.tasks.settings: `preference`), checked for its runs."""

    def load_model(self, where, labels: list[str], quantization=None, seed: int = 0, trust_remote_code=False):
        """The base model a run of this task trains (a head for `labels`, drawn from `seed`, when it has one)."""
        from ftlab import modeling

        return modeling.load_model(where, self.model_kind, labels=labels, quantization=quantization, seed=seed,
                                   trust_remote_code=trust_remote_code)

    # data
    def encode(self, tok, fmt: str, row: dict, max_length: int, label_index: dict, train_on_prompt: bool) -> list:
        """The training examples of one row ({"input_ids", and "labels" or "label"})."""
        raise NotImplementedError

    def collate(self, rows: list[dict], pad_id: int) -> dict:
        """A batch of encoded examples as padded tensors (on the CPU)."""
        from ftlab.data import encode

        return encode.collate(rows, pad_id)

    def prepare_phase(self, cfg) -> str:
        """The run's phase (a code of ftlab.runs.run_dir.PHASES) while `prepare` works for `cfg`; "": nothing slow
        to show."""
        return ""

    def prepare(self, model, examples: list[list], cfg, device: str, autocast, pad_id: int, reference,
                progress=nobody) -> list[list]:
        """The splits' examples (training, validation) made ready before the first step, with the model as it
        starts and `reference` ((model, context) as the method sees its reference): unchanged here."""
        return examples

    def keep(self, cfg, s, run_path) -> None:
        """What the run's folder keeps beside its saved weights, from its Setup `s`: nothing here."""

    # training
    def loss(self, model, batch: dict, forward=None, cfg=None):
        """The mean loss of a batch (what `units` counts it over); `forward` is the model as wrapped for data
        parallel training, which must see the forward pass; `cfg` the run's config."""
        return (forward or model)(**batch).loss

    def loss_stats(self, model, batch: dict, forward=None, cfg=None) -> tuple:
        """(the batch's loss, {name: float} of what else the step shows on the dashboard: none here)."""
        return self.loss(model, batch, forward, cfg), {}

    def units(self, batch: dict) -> int:
        """What a batch's loss is a mean over, so that a step of several batches weighs each by it: rows here."""
        return len(batch["attention_mask"])

    def positions(self, batch: dict) -> int:
        """Token positions the model computes for a batch, padding included (the dashboard's padding share)."""
        return batch["attention_mask"].numel()

    def rows_held(self, cfg) -> int:
        """Rows whose activations a training step holds per example of its batch (the memory estimate's rows)."""
        return 1

    def scored_tokens(self, batch: dict) -> int:
        """Tokens of a batch whose logits the loss needs (activation recompute plans for them); 0: none extra."""
        return 0

    # evaluation
    def cases(self, fmt: str, rows: list[dict], labels: list[str]) -> Cases:
        raise NotImplementedError

    def probe_prompts(self, probes: list[str]) -> list:
        """The person's probe texts as prompts this task's models answer."""
        raise NotImplementedError

    def probe_from_case(self, prompt):
        """A validation case's prompt as a probe (the first few cases are the probes when the person gives none)."""
        return prompt

    def eval_loss(self, model, examples: list, pad_id: int, batch_size: int, device: str, autocast,
                  progress=nobody, cfg=None) -> tuple[float, list, int]:
        """(mean loss over the validation examples, predictions made on the way or [], what the mean is over)."""
        raise NotImplementedError

    def answered(self, cfg, final: bool) -> int | None:
        """How many validation cases the model answers at an evaluation (None: all), the final report or not."""
        return 0

    def answer(self, model, tok, prompts: list, cfg, device: str, autocast, progress=nobody) -> list:
        raise NotImplementedError

    def scores(self, predictions: list, answers: list, references: list, labels: list, loss: float, weight: int,
               cfg) -> dict:
        """The eval_* metrics of one evaluation (names from ftlab.metrics.registry)."""
        return {"eval_loss": loss}

    def shown(self, answer, labels: list[str]) -> str:
        """A probe answer as the dashboard shows it."""
        return str(answer)

    def compare(self, labels: list[str], val: Cases, base: list, tuned: list) -> dict:
        """The report's task part from both models' answers: {"base": metrics, "tuned": metrics, "rows": [...]},
        plus anything else the report shows for this task (confusion matrices, counts of changes)."""
        raise NotImplementedError
