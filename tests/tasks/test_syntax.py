"""The text helpers (file words, links), checked against plain reference versions."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from runner.tasks import mark_done, parse_task_list
from runner.tasks.text import (
    FILE_EXTENSIONS,
    FILE_NAMES,
    file_words,
    link_targets,
    reduce_links,
    split_links,
)

_WORD_RE = re.compile(r"[\w./@+-]+")
_LINK_RE = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]*)(?:[ \t]+\"[^\"]*\")?\)")
_ANCHOR_RE = re.compile(r"(?:#.*|(?::\d+)+)$")

# text made of the characters that matter to words, links and anchors
_TEXT = st.lists(
    st.sampled_from([*'ab.f/@+-_ #:,;()[]!"é1', "file", "js", "Makefile", "](", "://", "./"]),
    max_size=30,
).map("".join)


def _reference_file_words(text: str) -> list[str]:
    """The definition: every word, trimmed, whose extension or name says it is a file."""
    words = []
    for raw in _WORD_RE.findall(text):
        word = raw.rstrip(".,;:-").lstrip("-").removeprefix("./")
        name = word.rsplit("/", 1)[-1]
        ext = name.rsplit(".", 1)[-1].lower() if "." in name[1:] else ""
        if (ext in FILE_EXTENSIONS or name in FILE_NAMES) and not word.startswith(("/", "@")):
            words.append(word)
    return words


def _reference_targets(text: str) -> list[str]:
    targets = []
    for m in _LINK_RE.finditer(text):
        target = _ANCHOR_RE.sub("", m["target"])
        if target and "://" not in target and not target.startswith("mailto:"):
            targets.append(target.removeprefix("./"))
    return targets


def test_every_file_name_contains_file() -> None:
    # file_words only looks at words holding a dot or "file"
    assert all("file" in name for name in FILE_NAMES)


@given(_TEXT)
def test_file_words_matches_the_definition(text: str) -> None:
    assert file_words(text) == _reference_file_words(text)


def test_file_words_examples() -> None:
    text = "Edit ./src/Dockerfile, Makefile and a.tsx; not profile, /etc/x.js or @scope/p.json."
    assert file_words(text) == ["src/Dockerfile", "Makefile", "a.tsx"]


@given(_TEXT)
def test_split_links_is_reduce_links_and_link_targets(text: str) -> None:
    reduced, targets = split_links(text)
    assert reduced == _LINK_RE.sub(lambda m: m["text"], text)
    assert targets == _reference_targets(text)
    assert (reduce_links(text), link_targets(text)) == (reduced, targets)


def test_split_links_drops_anchors_and_urls() -> None:
    text = "See [a](./src/a.js:77), [b](docs/b.md#part), [c](https://x.y/c.js) and [d](mailto:d)."
    assert split_links(text) == ("See a, b, c and d.", ["src/a.js", "docs/b.md"])


def test_comment_after_many_exclamation_marks_is_still_a_comment() -> None:
    text = "".join(f"1.1.{n} Task {n}!\n" for n in range(1, 101)) + "<!--\n1.1.101 Old\n-->\n"
    task_list = parse_task_list(text)
    assert task_list.get("1.1.101") is not None
    assert task_list.get("1.1.101").status == "completed"  # type: ignore[union-attr]


def test_mark_status_line_with_comment_marker_is_checked_by_a_full_parse() -> None:
    text = "#### 1.1.1 First\n- **Status**: pending <!-- todo -->\n#### 1.1.2 Second\n"
    marked = mark_done(text, "1.1.1")
    assert marked == "#### 1.1.1 First\n- **Status**: completed\n#### 1.1.2 Second\n"
    task = parse_task_list(marked).get("1.1.1")
    assert task is not None
    assert task.done
