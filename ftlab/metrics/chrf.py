"""chrF (sacrebleu, 0-100): character n-gram F-score of the generated texts, over the whole corpus."""

import evaluate
import sacrebleu

from ftlab.metrics._module import TEXT, info


class Chrf(evaluate.Metric):
    def _info(self):
        return info(__doc__, TEXT, TEXT)

    def _compute(self, predictions, references):
        if not references:
            return {"chrf": 0.0}
        return {"chrf": sacrebleu.corpus_chrf(list(predictions), [list(references)]).score}
