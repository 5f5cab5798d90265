from __future__ import annotations

import pytest

from runner.redact import Redactor, redact


@pytest.mark.parametrize(
    "text",
    [
        "https://user:hunter22@github.com/org/repo.git",
        "https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/x",
        "Authorization: Bearer abcdefghijklmnop",
        "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 here",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
        "glpat-abcdefghijklmnopqrstu",
        "key sk-abcdefghijklmnopqrstuvwx",
        "key sk-ant-api03-abcdefghijklmnopqrstuvwx",
        "AKIAIOSFODNN7EXAMPLE",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
        "-----END OPENSSH PRIVATE KEY-----",
        "OPENAI_API_KEY=abcd1234",
    ],
)
def test_redact_hides_token_shapes(text: str) -> None:
    out = redact(text)
    assert "***" in out
    for secret in (
        "hunter22",
        "ghp_abc",
        "abcdefghijklmnop",
        "sk-",
        "AKIAIOSF",
        "b3BlbnNz",
        "abcd1234",
    ):
        assert secret not in out


def test_redact_hides_configured_secret_and_its_url_encoding() -> None:
    r = Redactor(("p@ss/word!",))
    out = r("raw p@ss/word! encoded p%40ss%2Fword%21 plus p%40ss%2Fword%21")
    assert "p@ss" not in out
    assert "p%40ss" not in out


def test_redact_keeps_ordinary_text() -> None:
    text = "src/config.js:12 changed 5 lines; see https://github.com/org/repo/pull/3"
    assert redact(text) == text


def test_redact_value_walks_nested_structures() -> None:
    r = Redactor(("topsecret",))
    assert r.value({"a": ["x topsecret", ("topsecret",)], "n": 3}) == {
        "a": ["x ***", ["***"]],
        "n": 3,
    }


def test_redactor_ignores_tiny_secrets() -> None:
    assert Redactor(("ab",))("abc") == "abc"


def test_leaks_finds_secret_values_token_shapes_and_keys_but_not_code_naming_them() -> None:
    redactor = Redactor(("hunter2-secret",))
    assert redactor.leaks("x = 'hunter2-secret'")
    assert redactor.leaks("token: ghp_" + "a" * 36)
    assert redactor.leaks("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert not redactor.leaks("TOKEN = os.environ['GIT_TOKEN']")
    assert not redactor.leaks("remote = 'ssh://git@github.com/a/b'")


def test_secret_lines_name_file_and_new_line_number() -> None:
    from runner.git.secrets import secret_lines

    diff = (
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -3,0 +4,2 @@\n+ok\n+SECRET\n"
        "diff --git a/b.md b/b.md\n--- /dev/null\n+++ b/b.md\n@@ -0,0 +1,2 @@\n+++ SECRET\n+x\n"
    )
    assert secret_lines(diff, lambda line: "SECRET" in line) == [("a.py", 5), ("b.md", 1)]
