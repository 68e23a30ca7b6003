"""BLEU (sacrebleu, 0-100) of the generated texts against one reference each, over the whole corpus."""

import evaluate
import sacrebleu

from ftlab.metrics._module import TEXT, info


class Bleu(evaluate.Metric):
    def _info(self):
        return info(__doc__, TEXT, TEXT)

    def _compute(self, predictions, references):
        if not references:
            return {"bleu": 0.0}
        return {"bleu": sacrebleu.corpus_bleu(list(predictions), [list(references)]).score}
