"""A corpus of malformed dataset files (tests/data/malformed/): each one must be refused with a DataError whose
message starts with the file's name and names the place (line, row, field or turn) and the kind of problem.

Fragments are matched case-insensitively and kept to the place plus a key word or two, so wording can evolve.
"""

import contextlib
from pathlib import Path

import pytest

from ftlab import data

CORPUS = Path(__file__).parent / "data" / "malformed"

CASES = [
    # JSON / JSONL syntax and shape
    ("array_missing_comma.json", ["line 3", "invalid json"]),
    ("array_trailing_comma.json", ["line 4", "invalid json"]),
    ("broken_line_3_of_5.jsonl", ["line 3", "invalid json"]),
    ("truncated_last_line.jsonl", ["line 4", "invalid json"]),
    ("scalar_number.json", ["array"]),
    ("scalar_string.json", ["array"]),
    ("object_two_lists.json", ["exactly one list"]),
    ("object_list_row_2_no_label.json", ["row 2", "field `label`"]),
    ("rows_are_arrays.jsonl", ["line 1", "expected an object"]),
    # empty, binary, encodings, containers
    ("empty.csv", ["empty"]),
    ("header_only.csv", ["no rows"]),
    ("all_rows_empty.csv", ["empty"]),
    ("blank_lines_only.txt", ["no rows"]),
    ("binary_garbage.jsonl", ["binary"]),
    ("utf16le_no_bom.csv", ["utf-16"]),
    ("latin1_line_3.csv", ["line 3", "not valid utf-8"]),
    ("not_gzip.csv.gz", ["gzip"]),
    ("junk.parquet", ["parquet"]),
    ("spreadsheet.xlsx", ["unsupported file type"]),
    ("report.docx", ["unsupported file type"]),
    # CSV / TSV structure
    ("quoted_newlines_label_missing_line_5.csv", ["line 5", "field `label`"]),
    ("extra_field_line_3.csv", ["line 3", "more fields than the header"]),
    ("extra_tab_line_4.tsv", ["line 4", "more fields than the header"]),
    ("unterminated_quote_line_3.csv", ["line 3"]),
    # classification and sentence pairs
    ("empty_text_line_4.csv", ["line 4", "field `text`", "missing or empty"]),
    ("missing_label_line_3.csv", ["line 3", "field `label`", "missing or empty"]),
    ("single_class.csv", ["only one label"]),
    ("mixed_label_types.jsonl", ["mixed label types"]),
    ("float_labels.csv", ["line 2", "field `label`", "whole numbers"]),
    ("pair_empty_sentence2_line_3.csv", ["line 3", "field `text_pair`"]),
    ("parquet_row_2_no_label.parquet", ["row 2", "field `label`"]),
    # chat formats
    ("chat_unknown_role_line_2.jsonl", ["line 2", "messages[1].role", "is not one of"]),
    ("chat_content_number_line_2.jsonl", ["line 2", "messages[1].content", "expected text"]),
    ("chat_no_assistant_line_2.jsonl", ["line 2", "no assistant turn"]),
    ("chat_messages_not_list_line_2.jsonl", ["line 2", "field `messages`", "list"]),
    ("chat_turn_not_object_line_1.jsonl", ["line 1", "messages[0]", "expected an object"]),
    ("sharegpt_robot.json", ["line 3", "conversations[1].from", "is not one of"]),
    ("sharegpt_empty_value.jsonl", ["line 2", "conversations[1].value", "empty"]),
    ("alpaca_bad_history.json", ["line 3", "history"]),
    ("alpaca_output_list.json", ["line 3", "field `output`", "expected text"]),
    ("prompt_completion_missing_line_3.jsonl", ["line 3", "field `completion`", "missing or empty"]),
]


@pytest.mark.parametrize("name,fragments", CASES, ids=[c[0] for c in CASES])
def test_malformed_file_gets_a_message_naming_the_place(name, fragments):
    path = CORPUS / name
    with pytest.raises(data.DataError) as err:
        data.load(str(path))
    message = str(err.value)
    lowered = message.lower()
    assert name in message
    for problem in err.value.problems:
        assert problem.startswith(name), problem
    for fragment in fragments:
        assert fragment.lower() in lowered, f"{fragment!r} not in:\n{message}"


def test_every_corpus_file_has_an_expectation():
    names = [c[0] for c in CASES]
    on_disk = sorted(p.name for p in CORPUS.iterdir())
    assert len(on_disk) >= 25
    assert len(names) == len(set(names)), "a file is listed twice in CASES"
    assert sorted(names) == on_disk


def test_a_good_file_still_loads_after_every_bad_one():
    for path in sorted(CORPUS.iterdir()):
        with contextlib.suppress(Exception):  # each file's own outcome is checked above
            data.load(str(path))
    ds = data.load("sentiment")
    assert ds.format == "classification" and ds.labels == ["negative", "positive"] and len(ds.rows) == 240


@pytest.mark.parametrize("suffix,body", [(".json", "[" * 100_000 + "]" * 100_000),
                                         (".jsonl", '{"text": "fine", "label": "a"}\n{"text": '
                                          + "[" * 100_000 + "]" * 100_000 + ', "label": "b"}\n')])
def test_json_nested_100000_levels_deep_is_a_data_problem_naming_the_file(tmp_path, suffix, body):
    from ftlab.app.lab import Lab

    path = tmp_path / f"deep{suffix}"
    path.write_text(body)
    with pytest.raises(data.DataError) as err:
        data.load(str(path))
    assert str(err.value).startswith(path.name) and "nested too deeply" in str(err.value)
    assert (suffix == ".jsonl") == ("line 2" in str(err.value))
    seen = Lab().inspect(str(path))  # as the API's inspect_data meets it: the problem, named
    assert not seen["ok"] and "nested too deeply" in seen["problems"][0] and path.name in seen["summary"]
