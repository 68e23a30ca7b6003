"""The metric modules in ftlab/metrics, loaded by path through `evaluate`, against values computed by hand."""

import math

import pytest

from ftlab import metrics


def test_classification_metrics_match_hand_counts():
    # refs 0 0 1 1 2 2, preds 0 1 1 1 0 2: per class (tp, fp, fn) = 0:(1,1,1) 1:(2,1,0) 2:(1,0,1)
    got = metrics.classification([0, 1, 1, 1, 0, 2], [0, 0, 1, 1, 2, 2], 3)
    assert got["accuracy"] == pytest.approx(4 / 6)
    precision = [1 / 2, 2 / 3, 1.0]
    recall = [1 / 2, 1.0, 1 / 2]
    f1 = [2 * p * r / (p + r) for p, r in zip(precision, recall)]
    assert got["precision"] == pytest.approx(sum(precision) / 3)
    assert got["recall"] == pytest.approx(sum(recall) / 3)
    assert got["f1_macro"] == pytest.approx(sum(f1) / 3)
    assert got["f1_micro"] == pytest.approx(4 / 6)  # pooled: tp 4, fp 2, fn 2
    assert got["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_a_class_never_predicted_scores_zero_precision_and_counts_in_the_macro_mean():
    got = metrics.classification([0, 0, 0, 0], [0, 0, 1, 2], 3)
    assert got["accuracy"] == 0.5
    assert got["precision"] == pytest.approx((2 / 4 + 0 + 0) / 3)
    assert got["recall"] == pytest.approx((1 + 0 + 0) / 3)
    assert got["f1_macro"] == pytest.approx((2 * 0.5 * 1 / 1.5) / 3)
    assert got["confusion_matrix"] == [[2, 0, 0], [1, 0, 0], [1, 0, 0]]


def test_a_label_absent_from_both_lists_still_gets_its_row_and_column():
    got = metrics.classification([0, 1], [0, 1], 3)
    assert got["accuracy"] == 1.0 and got["f1_micro"] == 1.0
    assert got["f1_macro"] == pytest.approx(2 / 3)  # the empty class scores 0, like scikit-learn's zero_division=0
    assert got["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_generation_metrics_on_exact_partial_and_empty_outputs():
    refs = ["the cat sat on the mat", "hello world", "a b c"]
    got = metrics.generation(["the cat sat on the mat", "hello", ""], refs)
    assert got["exact_match"] == pytest.approx(1 / 3)
    # ROUGE-L: 1; "hello" vs "hello world": P 1, R 1/2 -> 2/3; empty -> 0
    assert got["rougeL"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert 0 < got["bleu"] < 100 and 0 < got["chrf"] < 100
    perfect = metrics.generation(refs, refs)
    assert perfect["bleu"] == pytest.approx(100) and perfect["chrf"] == pytest.approx(100)
    assert perfect["rougeL"] == 1 and perfect["exact_match"] == 1
    empty = metrics.generation(["", ""], ["x y", "z"])
    assert empty == {"bleu": 0.0, "chrf": 0.0, "rougeL": 0.0, "exact_match": 0.0}


def test_bleu_is_the_geometric_mean_of_clipped_ngram_precisions_times_the_brevity_penalty():
    # hypothesis 6 words, reference 7: 1-4 gram matches 5/6, 3/5, 2/4, 1/3 ("the the" clipped to one "the" pair)
    hyp, ref = "the cat the cat sat down", "the cat sat down on the mat"
    got = metrics.generation([hyp], [ref])["bleu"]
    from collections import Counter

    def grams(words, n):
        return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))

    h, r = hyp.split(), ref.split()
    precisions = [sum((grams(h, n) & grams(r, n)).values()) / max(len(h) - n + 1, 1) for n in range(1, 5)]
    expected = 100 * math.exp(1 - len(r) / len(h)) * math.exp(sum(math.log(p) for p in precisions) / 4)
    assert got == pytest.approx(expected, rel=1e-6)


def test_rouge_counts_chinese_characters_as_words():
    got = metrics.generation(["我喜欢猫"], ["我喜欢狗"])["rougeL"]
    assert got == pytest.approx(3 / 4)


def test_perplexity_weighs_rows_by_their_tokens():
    assert metrics.perplexity([2.0, 6.0], [1, 3]) == pytest.approx(math.exp(8 / 4))
    assert math.isnan(metrics.perplexity([], []))


@pytest.mark.slow  # heavier than the edit-test loop needs; make test runs it
def test_runs_evaluating_at_the_same_time_each_get_their_own_scores():
    from concurrent.futures import ThreadPoolExecutor

    def score(i: int):
        tokens = i % 5 + 1
        return (metrics.perplexity([0.5 * tokens * i], [tokens]), metrics.classification([i % 3, 1], [i % 3, 0], 3))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(score, range(200)))
    for i, (perplexity, classification) in enumerate(results):
        assert perplexity == pytest.approx(math.exp(0.5 * i))
        assert classification["accuracy"] == 0.5
