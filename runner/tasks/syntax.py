"""Line-level syntax of task lists: what a line is, and the text helpers the parser uses.

Kept apart from the parser so that the regular expressions live in one place; every function
here looks at one line (or one piece of text) only.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "CRITERION_LINE_RE",
    "DONE_MARKS",
    "PLAIN_LINE_RE",
    "Line",
    "classify",
    "description_of",
    "file_words",
    "holds",
    "link_targets",
    "plain_item",
    "reduce_links",
    "remove_links",
    "requirement_of",
    "split_dependency_clause",
    "split_links",
    "strip_done",
    "tidy_description",
    "title_of",
]


def holds(text: str, needle: str, key: str) -> bool:
    """``needle in text``, sooner for a long text: the occurrences of ``key``, a character of
    ``needle`` that texts hold few of, are looked at instead.

    ``str``'s search for a short needle steps about one character at a time through a text
    whose characters share its filter bits (``a`` does ``!``'s), ~0.7 ms a MB; finding one
    character is ``memchr``, some thirty times faster. After many occurrences of ``key`` the
    rest of the text gets the plain search.
    """
    offset = needle.index(key)
    at = text.find(key, offset)
    for _ in range(_KEY_LOOKS):
        if at == -1:
            return False
        if text.startswith(needle, at - offset):
            return True
        at = text.find(key, at + 1)
    return at != -1 and text.find(needle, at - offset) != -1


_KEY_LOOKS = 64
"""How many occurrences of the key `holds` looks at one by one."""

DONE_MARKS = ("✅", "✔️", "✔")
"""Marks that make a line done when they end it (or start its text)."""

FILE_EXTENSIONS = frozenset(
    {
        "js",
        "jsx",
        "ts",
        "tsx",
        "mjs",
        "cjs",
        "py",
        "pyi",
        "md",
        "mdx",
        "rst",
        "txt",
        "json",
        "jsonc",
        "yml",
        "yaml",
        "toml",
        "ini",
        "cfg",
        "conf",
        "env",
        "css",
        "scss",
        "sass",
        "less",
        "html",
        "htm",
        "vue",
        "svelte",
        "sh",
        "bash",
        "zsh",
        "ps1",
        "sql",
        "go",
        "rs",
        "java",
        "kt",
        "kts",
        "rb",
        "php",
        "c",
        "h",
        "cc",
        "cpp",
        "hpp",
        "cs",
        "swift",
        "xml",
        "csv",
        "lock",
        "gradle",
        "properties",
        "tf",
        "ipynb",
        "graphql",
        "proto",
    }
)
FILE_NAMES = frozenset({"Dockerfile", "Makefile", "Procfile", "Jenkinsfile"})

_ID = r"\d+(?:\.\d+)+(?:\.[A-Za-z])?"
_ITEM_RE = re.compile(
    r"(?P<head>\#{1,6}[ \t]+)?(?:(?P<bullet>[-*+•])[ \t]+)?(?:\[(?P<box>[ xX])\][ \t]*)?"
    r"(?P<lead>(?:✅|✔️|✔)[ \t]*)?(?:\*\*)?(?:Task[ \t]+)?(?P<id>" + _ID + r")\.?(?:\*\*)?"
    r"(?:[ \t]*[:\u2014\u2013-]?[ \t]+|[ \t]*:|[ \t]*$)(?P<text>.*)"
)
_PLAIN_HEAD_RE = re.compile(r"(?P<id>" + _ID + r")\.?")
PLAIN_LINE_RE = re.compile(r"(" + _ID + r")\.? ([^ \t:\u2014\u2013-].*)", re.DOTALL)
"""A whole plain ``1.1.1 Text`` line: groups 1 and 2 are what `plain_item` returns."""
_NOT_PLAIN_TEXT = frozenset(" \t:\u2014\u2013-")
_PHASE_RE = re.compile(
    r"(?P<head>\#{1,6}[ \t]+)?(?:(?P<bullet>[-*+•])[ \t]+)?(?:\[(?P<box>[ xX])\][ \t]*)?"
    r"(?:\*\*)?phase[ \t]+(?P<id>\d+)\b(?:\*\*)?[ \t]*[:\u2014\u2013.-]?[ \t]*(?P<text>.*)",
    re.IGNORECASE,
)
_PHASE_DONE_RE = re.compile(
    r"[#*\s-]*phase\s+(?P<id>\d+)\s+(?:is\s+)?(?:completed?|done)\W*", re.IGNORECASE
)
_FIELD_RE = re.compile(r"[-*+][ \t]+\*\*(?P<key>[^*]+?)\*\*[ \t]*:?[ \t]*(?P<value>.*)")
_CRITERION_RE = re.compile(r"[-*+•][ \t]*<?[ \t]*criterion\b[^:]*:(?P<text>.*)", re.IGNORECASE)
CRITERION_LINE_RE = re.compile(r"\s*[-*+•][ \t]+<[ \t]*criterion\b[^:]*:(.*)", re.IGNORECASE)
"""A whole ``- <criterion N: …>`` line, the common criterion bullet: group 1 is the text
`classify` gives it (kind ``criterion``)."""
_SUB_RE = re.compile(r"[-*+•][ \t]+(?P<text>.*)")
_ORPHAN_BOX_RE = re.compile(r"[-*+][ \t]+\[[ xX]\]")
_LINK_RE = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]*)(?:[ \t]+\"[^\"]*\")?\)")
_DEPS_RE = re.compile(r"\(\s*(?:dependencies|depends on|deps)\s*:", re.IGNORECASE)
# a whole word (a maximal run of [\w./@+-]) that holds a dot or "file"
_FILE_WORD_RE = re.compile(r"(?<![\w./@+-])[\w/@+-]*(?:\.|file)[\w./@+-]*")
_ANCHOR_RE = re.compile(r"(?:#.*|(?::\d+)+)$")
_SOURCE_RE = re.compile(r"\s*\[source:[^\]]*\](?:\([^)]*\))?", re.IGNORECASE)


class Line(NamedTuple):
    """What one line of the list is.

    ``kind`` is one of ``phase``, ``phase_done``, ``item``, ``field``, ``criterion``,
    ``sub`` (an indented bullet), ``orphan_box`` (a checkbox without an id) or ``other``.
    A named tuple rather than an attrs value: one is made per line, and a frozen attrs
    instance costs several times more to build.
    """

    kind: str
    indent: int = 0
    id: str = ""
    text: str = ""
    style: str = ""
    box: str | None = None
    lead_done: bool = False


_OTHER = Line("other")


def classify(line: str) -> Line:
    """Tell what a line (without its line ending) is."""
    stripped = line.lstrip()
    if not stripped:
        return _OTHER
    indent = len(line) - len(stripped)
    first = stripped[0]
    if first.isdigit():  # the common case: a plain ``1.1.1 Text`` line
        return _item(stripped, indent) or _OTHER
    if first not in "#-*+•[*Pp✅✔":
        return _OTHER
    if first in "-*+•" and stripped[1:2] in (" ", "\t") and stripped[2:].lstrip(" \t")[:1] == "<":
        # a bullet whose text starts with "<" (a criterion, the common case): no phase, field
        # or item pattern below can match it
        return _bullet(stripped, indent)
    if first in "Pp#-*" and (m := _PHASE_DONE_RE.fullmatch(stripped)):
        return Line("phase_done", indent, m["id"])
    if first in "-*+" and (m := _FIELD_RE.match(stripped)) is not None:
        return Line("field", indent, m["key"].strip().rstrip(":").strip().lower(), m["value"])
    if (item := _item(stripped, indent)) is not None:
        return item
    if first in "Pp#-*+[" and (m := _PHASE_RE.match(stripped)) is not None:
        head, bullet, box, phase_id, text = m.group("head", "bullet", "box", "id", "text")
        return Line("phase", indent, phase_id, text, _style(head, bullet, box), box)
    if first in "-*+•":
        return _bullet(stripped, indent)
    return _OTHER


def _bullet(stripped: str, indent: int) -> Line:
    """Tell what a bullet line that is no phase, field or item is."""
    if (m := _CRITERION_RE.match(stripped)) is not None:
        return Line("criterion", indent, text=m["text"])
    if _ORPHAN_BOX_RE.match(stripped):
        return Line("orphan_box", indent, text=stripped)
    if (m := _SUB_RE.match(stripped)) is not None:
        return Line("sub", indent, text=m["text"])
    return _OTHER


def plain_item(line: str) -> tuple[str, str] | None:
    """Read the common plain line ``1.1.1 Text`` without the full regex: ``(id, text)``.

    Gives what `classify` gives for such a line (kind ``item``, style ``plain``); ``None``
    when the line has any other shape, which `classify` then reads.
    """
    head, _, text = line.partition(" ")
    if not text or text[0] in _NOT_PLAIN_TEXT:
        return None
    m = _PLAIN_HEAD_RE.fullmatch(head)
    return None if m is None else (m["id"], text)


def _item(stripped: str, indent: int) -> Line | None:
    m = _ITEM_RE.match(stripped)
    if m is None:
        return None
    head, bullet, box, lead, item_id, text = m.group("head", "bullet", "box", "lead", "id", "text")
    return Line("item", indent, item_id, text, _style(head, bullet, box), box, lead is not None)


def _style(head: str | None, bullet: str | None, box: str | None) -> str:
    if box is not None:
        return "checkbox"
    if head is not None:
        return "field"
    if bullet is not None:
        return "bullet"
    return "plain"


def strip_done(text: str) -> tuple[str, bool]:
    """Remove a trailing done mark (✅) from ``text``; say whether there was one."""
    done = False
    text = text.rstrip()
    while text.endswith(DONE_MARKS):
        done = True
        for mark in DONE_MARKS:
            if text.endswith(mark):
                text = text[: -len(mark)].rstrip()
                break
    return text, done


def split_dependency_clause(text: str) -> tuple[str, str | None]:
    """Split ``Title (Dependencies: …)`` into the title and the clause's content.

    The clause ends at its matching parenthesis, so links inside it are kept whole.
    """
    m = _DEPS_RE.search(text)
    if m is None:
        return text, None
    close = text.find(")", m.end())
    if close != -1 and "(" not in text[m.end() : close]:  # the common case: no nested one
        rest = (text[: m.start()] + " " + text[close + 1 :]).strip()
        return " ".join(rest.split()), text[m.end() : close].strip()
    depth = 1
    for i in range(m.end(), len(text)):
        char = text[i]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                rest = (text[: m.start()] + " " + text[i + 1 :]).strip()
                return " ".join(rest.split()), text[m.end() : i].strip()
    return text[: m.start()].strip(), text[m.end() :].strip()


def reduce_links(text: str) -> str:
    """Replace each Markdown link with its text."""
    if "](" not in text:
        return text
    return _LINK_RE.sub(lambda m: m["text"], text)


def link_targets(text: str) -> list[str]:
    """Return the local targets of the Markdown links in ``text``, anchors (``:77``) dropped."""
    return split_links(text)[1]


def split_links(text: str) -> tuple[str, list[str]]:
    """Return `reduce_links` and `link_targets` of ``text`` in one pass."""
    if "](" not in text:
        return text, []
    pieces: list[str] = []
    targets: list[str] = []
    end = 0
    for m in _LINK_RE.finditer(text):
        link_text, target = m.group("text", "target")
        pieces += (text[end : m.start()], link_text)
        end = m.end()
        if "#" in target or ":" in target:
            target = _ANCHOR_RE.sub("", target)
        if target and "://" not in target and not target.startswith("mailto:"):
            targets.append(target.removeprefix("./"))
    pieces.append(text[end:])
    return "".join(pieces), targets


def remove_links(text: str) -> str:
    """Remove each Markdown link entirely."""
    return _LINK_RE.sub("", text) if "](" in text else text


def file_words(text: str) -> list[str]:
    """Return the words of ``text`` that name files (``src/a.js``, ``task_outcomes.md``)."""
    # A file word has an extension (so a dot) or is one of FILE_NAMES (which all contain "file"),
    # so only the words with either are looked at.
    if "." not in text and "file" not in text:
        return []
    words = []
    for raw in _FILE_WORD_RE.findall(text):
        word = raw.rstrip(".,;:-").lstrip("-").removeprefix("./")
        name = word.rsplit("/", 1)[-1]
        ext = name.rsplit(".", 1)[-1].lower() if "." in name[1:] else ""
        if (ext in FILE_EXTENSIONS or name in FILE_NAMES) and not word.startswith(("/", "@")):
            words.append(word)
    return words


def title_of(description: str) -> str:
    """Cut a trailing `` with …`` clause off a description (keeping at least two words)."""
    head, sep, _ = description.partition(" with ")
    if sep and len(head.split()) >= 2:
        return head.rstrip(" ,;:")
    return description


def description_of(text: str) -> str:
    """Reduce links to their text, drop the final period and collapse whitespace."""
    return tidy_description(reduce_links(text))


def tidy_description(reduced: str) -> str:
    """Finish `description_of` on text whose links are already reduced."""
    text = " ".join(reduced.split())
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    return text


def requirement_of(text: str) -> str:
    """Turn a ``<criterion N: …> [source: …](…)`` bullet's text into the requirement."""
    text = text.strip()
    if ">" in text:
        text = text[: text.rindex(">")]
    if "[" in text:
        text = _SOURCE_RE.sub("", text)
    return " ".join(text.split())
