"""The shared YAML reader: values keep their lines, and every mistake becomes a file:line problem."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import yaml

from ivr_flows.errors import Problem
from ivr_flows.yaml_lines import Reader, compose


class Broken(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(problems)


def read(text: str) -> tuple[Reader, yaml.Node]:
    return Reader("f.yaml", []), compose(text, "f.yaml", Broken)


def test_a_duplicate_key_is_a_problem_at_its_line_and_the_first_value_is_kept() -> None:
    r, root = read("a: 1\nb: 2\na: 3\n")
    items = r.mapping(root, "the file")
    assert [(key, value.value, line) for key, value, line in items] == [("a", "1", 1), ("b", "2", 2)]
    assert r.problems == [Problem("f.yaml", 3, "the file: duplicate key 'a'")]


def test_duplicates_are_kept_when_the_caller_checks_them() -> None:
    r, root = read("a: 1\na: 3\n")
    assert [line for _, _, line in r.mapping(root, "the file", duplicates_ok=True)] == [1, 2]
    assert r.problems == []


def test_a_list_where_a_mapping_belongs_is_a_problem() -> None:
    r, root = read("top:\n  - one\n  - two\n")
    [(_, value, _)] = r.mapping(root, "the file")
    assert r.mapping(value, "top") == []
    assert r.problems == [Problem("f.yaml", 2, "top must be a mapping")]


def test_values_keep_their_text_and_bad_ones_are_reported_with_their_line() -> None:
    r, root = read("code: 011\nwait: 0\nnone: ~\n")
    values = {key: value for key, value, _ in r.mapping(root, "the file")}
    assert r.text(values["code"], "code") == "011"
    assert r.number(values["wait"], "wait", zero_ok=True) == 0
    assert r.number(values["wait"], "wait", unit="seconds") is None
    assert r.text(values["none"], "none") is None
    assert [str(p) for p in r.problems] == ["f.yaml:2: wait must be a number of seconds above 0",
                                            "f.yaml:3: none must be text"]


def test_invalid_yaml_is_one_problem_at_its_line() -> None:
    with pytest.raises(Broken) as caught:
        compose("a: 1\nb: [unclosed\nc: d\n", "f.yaml", Broken)
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == ("f.yaml", 3)
    assert problem.message.startswith("not valid YAML: ")


def test_an_empty_file_is_one_problem() -> None:
    with pytest.raises(Broken) as caught:
        compose("# only a comment\n", "f.yaml", Broken)
    assert caught.value.problems == [Problem("f.yaml", 1, "the file is empty")]


def test_an_unknown_section_is_reported_and_kept() -> None:
    r, root = read("start: a\nextra: 1\n")
    assert list(r.sections(root, "the file", ("start", "nodes"))) == ["start", "extra"]
    assert [str(p) for p in r.problems] == ["f.yaml:2: unknown section 'extra' (known: start, nodes)"]
