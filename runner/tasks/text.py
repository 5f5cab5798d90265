"""What a task's text names: Markdown links, file words, title, description, requirements."""

from __future__ import annotations

import re

__all__ = [
    "FILE_EXTENSIONS",
    "FILE_NAMES",
    "description_of",
    "file_words",
    "link_targets",
    "reduce_links",
    "remove_links",
    "requirement_of",
    "split_links",
    "title_of",
]

FILE_EXTENSIONS = frozenset(
    "js jsx ts tsx mjs cjs py pyi md mdx rst txt json jsonc yml yaml toml ini cfg conf env css"  # noqa: SIM905  (57 names: one a line would say no more)
    " scss sass less html htm vue svelte sh bash zsh ps1 sql go rs java kt kts rb php c h cc cpp"
    " hpp cs swift xml csv lock gradle properties tf ipynb graphql proto".split()
)
"""Extensions that make a word a file name (``src/a.js``)."""
FILE_NAMES = frozenset({"Dockerfile", "Makefile", "Procfile", "Jenkinsfile"})
"""File names without an extension that still name files."""

_LINK_RE = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]*)(?:[ \t]+\"[^\"]*\")?\)")
_ANCHOR_RE = re.compile(r"(?:#.*|(?::\d+)+)$")
# a whole word (a maximal run of [\w./@+-]) that holds a dot or "file": only those can name a
# file (an extension, or one of FILE_NAMES), and finding just them is several times faster
_FILE_WORD_RE = re.compile(r"(?<![\w./@+-])[\w/@+-]*(?:\.|file)[\w./@+-]*")
_SOURCE_RE = re.compile(r"\s*\[source:[^\]]*\](?:\([^)]*\))?", re.IGNORECASE)


def split_links(text: str) -> tuple[str, list[str]]:
    """Return the text with each link reduced to its text, and the links' local targets.

    Anchors (``#part``, ``:77``) are dropped from targets; URLs and ``mailto:`` are no targets.
    """
    if "](" not in text:  # every link holds it
        return text, []
    pieces: list[str] = []
    targets: list[str] = []
    end = 0
    for m in _LINK_RE.finditer(text):
        link_text, target = m.group("text", "target")
        pieces += (text[end : m.start()], link_text)
        end = m.end()
        target = _ANCHOR_RE.sub("", target)
        if target and "://" not in target and not target.startswith("mailto:"):
            targets.append(target.removeprefix("./"))
    pieces.append(text[end:])
    return "".join(pieces), targets


def reduce_links(text: str) -> str:
    """Replace each Markdown link with its text."""
    return split_links(text)[0]


def link_targets(text: str) -> list[str]:
    """Return the local targets of the Markdown links in ``text`` (see `split_links`)."""
    return split_links(text)[1]


def remove_links(text: str) -> str:
    """Remove each Markdown link entirely."""
    return _LINK_RE.sub("", text)


def file_words(text: str) -> list[str]:
    """Return the words of ``text`` that name files (``src/a.js``, ``Makefile``).

    A word is a run of ``[\\w./@+-]``, trimmed of ``./`` and end punctuation; absolute paths
    and ``@scope`` names are no files of the repository.
    """
    words = []
    for raw in _FILE_WORD_RE.findall(text):
        word = raw.rstrip(".,;:-").lstrip("-").removeprefix("./")
        name = word.rsplit("/", 1)[-1]
        ext = name.rsplit(".", 1)[-1].lower() if "." in name[1:] else ""
        if (ext in FILE_EXTENSIONS or name in FILE_NAMES) and not word.startswith(("/", "@")):
            words.append(word)
    return words


def description_of(reduced: str) -> str:
    """Collapse whitespace and drop a final period (not an ellipsis) of link-free text."""
    text = " ".join(reduced.split())
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    return text


def title_of(description: str) -> str:
    """Cut a trailing `` with …`` clause off a description (keeping at least two words)."""
    head, sep, _ = description.partition(" with ")
    if sep and len(head.split()) >= 2:
        return head.rstrip(" ,;:")
    return description


def requirement_of(text: str) -> str:
    """Turn a ``<criterion N: …> [source: …](…)`` bullet's text into the requirement."""
    text = text.strip()
    if ">" in text:
        text = text[: text.rindex(">")]
    return " ".join(_SOURCE_RE.sub("", text).split())
