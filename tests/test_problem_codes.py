"""Every problem the engine finds in a file a person gave it carries a code and fields, so the UI can write it
whole in 简体中文: one bad file of each kind, read through the real readers, and each problem it gives rendered in
Chinese with the file's name in it and no English sentence left."""

from __future__ import annotations

import gzip
import io
import json
import re

import pandas as pd
import pytest

from ftlab import data, i18n
from ftlab.app import texts
from ftlab.data import cleaning
from ftlab.data.readers import DataError
from ftlab.serve.batch_classify import classify_file

BAD = {
    "utf16.csv": "text,label\nhi,a\n".encode("utf-16-le"),
    "blob.jsonl": b"\x00\x01\x02\x03\xff" * 50,
    "deep.jsonl": b'{"text": "a", "label": "x"}\n' + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "deep.json": b"[" * 100_000 + b"]" * 100_000,
    "two_lists.json": json.dumps({"a": [], "b": []}).encode(),
    "scalar.json": b"42",
    "wide.csv": b"text,label\nhello,a,extra\nworld,b\n",
    "quote.csv": b'text,label\n"abc' + b"x" * 200_000 + b'",a\n',
    "bad.parquet": b"PAR1 this is not parquet PAR1",
    "empty.csv": b"\n\n",
    "zero.jsonl": b"",
    "header.csv": b"text,label\n",
    "fraction.csv": b"text,label\nfine,1\ngood,0.5\nbad,0\n",
    "mixed.csv": b"text,label\nfine,1\ngood,positive\nbad,0\nok,negative\n",
    "blank_rows.jsonl": b'{"text": " ", "label": " "}\n',
    "scalars.jsonl": b'"just text"\n',
    "turns.jsonl": json.dumps({"messages": ["hi", {"role": "user", "content": 3},
                                            {"role": "assistant", "content": " "}]}).encode(),
    "history.jsonl": json.dumps({"instruction": "a", "output": "b", "history": "not pairs"}).encode(),
    "format.jsonl": json.dumps({"text": "a", "label": "b"}).encode(),
}
"""File name -> content that is wrong in one way (each a different problem code)."""


def problems(path, **kwargs) -> list:
    with pytest.raises(DataError) as caught:
        data.load(path, **kwargs)
    return caught.value.problems


def chinese(problem) -> str:
    i18n.use("zh")
    try:
        return texts.problem(problem)
    finally:
        i18n.use("en")


def assert_written_in_chinese(found: list, name: str) -> None:
    assert found, name
    for problem in found:
        assert getattr(problem, "code", None), f"{name}: {problem!r} has no code"
        assert i18n.t_or(f"problem.{problem.code}", "", lang="zh"), f"no zh text for problem.{problem.code}"
        zh = chinese(problem)
        assert name.split("/")[-1] in zh or problem.code == "mapped_twice", zh
        assert re.search(r"[\u4e00-\u9fff]", zh), zh
        quoted = r"\{.*?\}|`[^`]*`|'[^']*'|\([^)]*\)|（[^）]*）"  # values and a library's own detail stay as they are
        words = re.findall(r"\b(?:the|is|not|expected|file|rows?|line)\b", re.sub(quoted, "", zh.replace(name, "")))
        assert not words, f"English left in {zh!r}"


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_file_gives_problems_that_read_whole_in_chinese(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD[name])
    fmt = "alpaca" if name == "history.jsonl" else "sharegpt" if name == "format.jsonl" else ""
    found = problems(path, fmt=fmt) if name != "format.jsonl" else problems(path, fmt="nonsense")
    assert_written_in_chinese(found, name)


def test_file_level_limits_and_gzip_problems_have_codes(tmp_path):
    cases = {}
    big = tmp_path / "big.csv"
    big.write_text("text,label\n" + "a,b\n" * 300_000)
    cases["big.csv"] = problems(big, max_mb=1)
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(b"text,label\n" + b"a,b\n" * 600_000))
    cases["bomb.csv.gz"] = problems(bomb, max_mb=1)
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"\x1f\x8b not gzip at all")
    cases["broken.csv.gz"] = problems(broken)
    frame = pd.DataFrame({"text": [f"{i}" + "x" * 1000 for i in range(3000)], "label": ["a", "b", "c"] * 1000})
    packed = io.BytesIO()
    frame.to_parquet(packed, compression="gzip")
    dense = tmp_path / "dense.parquet"
    dense.write_bytes(packed.getvalue())
    cases["dense.parquet"] = problems(dense, max_mb=1)
    cases["missing.csv"] = problems(tmp_path / "missing.csv")
    for name, found in cases.items():
        assert_written_in_chinese(found, name)


def test_column_mapping_validation_labels_conflicts_and_batch_files_have_codes(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("review,stars\ngood film,pos\nbad film,neg\nfine,pos\ngood film,neg\n")
    assert_written_in_chinese(problems(train, columns={"text": "review", "label": "review"}), "train.csv")
    ds = data.load(train, columns={"text": "review", "label": "stars"})
    assert_written_in_chinese(ds.cleaning.conflicts, "train.csv")
    val = tmp_path / "val.csv"
    val.write_text("review,stars\nok,meh\nfine,pos\n")
    with pytest.raises(DataError) as caught:
        data.load_validation(val, ds, {"text": "review", "label": "stars"})
    assert_written_in_chinese(caught.value.problems, "val.csv")
    batch = tmp_path / "batch.csv"
    batch.write_text("text\nhello\n\" \"\n")
    with pytest.raises(DataError) as caught:
        classify_file(lambda texts_: [], batch)
    assert_written_in_chinese(caught.value.problems, "batch.csv")


def test_every_problem_code_in_the_data_package_has_english_and_chinese_texts():
    from pathlib import Path

    import ftlab

    source = "".join(p.read_text() for p in Path(ftlab.__file__).parent.rglob("*.py"))
    codes = set(re.findall(r'Problem\(\s*"([a-z0-9_]+)"', source))
    assert len(codes) >= 30
    for code in codes:
        for lang in ("en", "zh"):
            assert i18n.t_or(f"problem.{code}", "", lang=lang), f"problem.{code} has no {lang} text"


def test_no_data_error_is_raised_with_a_bare_sentence():
    """Each DataError lists coded problems: a bare f-string would reach the Chinese UI in English."""
    from pathlib import Path

    import ftlab

    package = Path(ftlab.__file__).parent
    for path in [*(package / "data").rglob("*.py"), package / "serve" / "batch_classify.py"]:
        text = path.read_text()
        bare = re.findall(r'DataError\(\[f?"|problems\.append\(f?"|\.problems\.append\(f"', text)
        assert not bare, f"{path.name} raises a problem without a code: {bare}"


def test_data_error_problems_survive_cleaning_conflict_detection(tmp_path):
    rows = [{"text": "same", "label": "a"}, {"text": "same", "label": "b"}]
    found = cleaning.find_conflicts(rows, [2, 3], "f.csv")
    assert found[0].code == "label_conflict" and found[0].fields["place"] == "2, 3"
    assert found[0] == "f.csv, lines 2, 3: 'same' is labelled a and b"
    i18n.use("zh")
    try:
        assert texts.problem(found[0]) == "f.csv，第 2, 3 行：'same' 同时被标为 a, b"
    finally:
        i18n.use("en")
