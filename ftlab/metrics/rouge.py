"""ROUGE-L F-measure (0-1), the mean over rows, from the longest common subsequence of words.

Words are lower-cased runs of letters and digits, and every CJK character is a word of its own, so Chinese
text scores too (ROUGE-1.5.5's tokeniser would drop it). Two empty texts score 0.
"""

import re

import evaluate

from ftlab.metrics._module import TEXT, info

WORD = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W_]+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def lcs(a: list, b: list) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    p, r = words(prediction), words(reference)
    common = lcs(p, r)
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


class Rouge(evaluate.Metric):
    def _info(self):
        return info(__doc__, TEXT, TEXT)

    def _compute(self, predictions, references):
        scores = [rouge_l(p, r) for p, r in zip(predictions, references)]
        return {"rougeL": sum(scores) / len(scores) if scores else 0.0}
