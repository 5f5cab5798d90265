"""The corpus of bench/autonomy.py: two repositories, their task lists, and a scripted model.

Each :class:`Task` says what the scripted model answers, in aider's SEARCH/REPLACE edit
format (``AIDER_EDIT_FORMAT=diff``, the service's default): a first answer, and repairs it
gives only when the prompt it receives carries the evidence a repair prompt would carry (the
failing test's id, the type checker's error line for the file, the file's "N/M lines
covered", "made no change ... the files are unchanged"), and, for a task whose wrong answers
cycle, the wrong version the file in the chat holds now. Kinds:

- ``right``: right on the first answer.
- ``test``: a bug that the model's own (correct) test catches; fixed once the failing test
  is named.
- ``type``: passes its tests but fails ``mypy --strict`` / ``tsc`` (a missing annotation, a
  wrong return type); fixed once the error line is shown.
- ``cover``: new code without (enough) tests, so coverage of the touched file is below 80 %;
  tests added once the file's "lines covered" figure is shown.
- ``no-change``: a first reply without any edit; the edit follows once told nothing changed.
- ``never``: never right: the same wrong edit again (it no longer applies, so the attempt
  changes nothing), or a different wrong edit each time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import attrs

__all__ = [
    "PYTHON_FILES",
    "TASKS",
    "Edit",
    "Repair",
    "Task",
    "paths",
    "render",
    "task_list",
    "ts_files",
]

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


@attrs.frozen
class Edit:
    """One SEARCH/REPLACE block (an empty ``search`` creates the file or appends to it)."""

    path: str
    search: str
    replace: str


Answer = tuple[Edit, ...] | str
"""The edits of a reply, or the text of a reply that edits nothing."""


@attrs.frozen
class Repair:
    """What the model answers once the prompt matches ``evidence`` (and holds ``state``)."""

    evidence: str
    answer: Answer
    state: str | None = None


@attrs.frozen
class Task:
    """One task of the corpus and how the scripted model answers it."""

    repo: str
    task_id: str
    title: str
    description: str
    files: tuple[str, ...]
    kind: str
    first: Answer
    repairs: tuple[Repair, ...] = ()

    @property
    def repairable(self) -> bool:
        """Whether some answer of the model passes the gates."""
        return self.kind != "never"

    def answer(self, prompt: str) -> Answer:
        """The answer to ``prompt``: the first repair whose evidence it shows, else the first."""
        for repair in self.repairs:
            if re.search(repair.evidence, prompt) and (
                repair.state is None or repair.state in prompt
            ):
                return repair.answer
        return self.first


def render(answer: Answer) -> str:
    """The model's reply text: the blocks in aider's diff format, or the plain text."""
    if isinstance(answer, str):
        return answer
    blocks = [
        f"{edit.path}\n```\n<<<<<<< SEARCH\n{edit.search}=======\n{edit.replace}"
        ">>>>>>> REPLACE\n```\n"
        for edit in answer
    ]
    return "Here is the change.\n\n" + "\n".join(blocks)


# -- evidence: what the runner's repair prompt says (runner/pipeline/repair.py) -------------


def failing_test(test_id: str) -> str:
    """The prompt names ``test_id`` (pytest ``file::name``, vitest ``file > title``) as failing."""
    return "failing test " + re.escape(test_id)


def type_error(path: str) -> str:
    """The prompt shows a mypy (``path:N: error:``) or tsc (``path(N,M): error TS``) line."""
    return re.escape(path) + r"(:\d+: error:|\(\d+,\d+\): error TS\d+)"


def uncovered(path: str) -> str:
    """The prompt gives ``path``'s ``N/M lines covered`` figure."""
    return re.escape(path) + r": \d+/\d+ lines covered"


NO_CHANGE = r"made no change \(exit \d+\): the files are unchanged"
NO_EDIT = "I would rather confirm the requirements before changing any code."


def _new(*files: tuple[str, str]) -> tuple[Edit, ...]:
    return tuple(Edit(path, "", text) for path, text in files)


def paths(repo: str, module: str) -> tuple[str, str]:
    """The source file and the test file of ``module`` in ``repo``'s layout."""
    if repo == "python":
        return f"src/ledger/{module}.py", f"tests/test_{module}.py"
    return f"src/{module}.ts", f"tests/{module}.test.ts"


@attrs.frozen
class _Module:
    """A task that writes one module and its test: how to build its :class:`Task`."""

    repo: str
    module: str
    title: str
    description: str

    def task(self, task_id: str, kind: str, source: str, test: str | None,
             *repairs: Repair) -> Task:  # fmt: skip
        """The task whose first answer creates ``source`` and ``test`` (None: no test)."""
        src, tst = paths(self.repo, self.module)
        first = _new((src, source), *([(tst, test)] if test is not None else []))
        return Task(self.repo, task_id, self.title, self.description, (src, tst), kind,
                    first, repairs)  # fmt: skip

    def no_change_first(self, task_id: str, source: str, test: str) -> Task:
        """The task whose first reply edits nothing, and whose repair creates both files."""
        src, tst = paths(self.repo, self.module)
        repair = Repair(NO_CHANGE, _new((src, source), (tst, test)))
        return Task(self.repo, task_id, self.title, self.description, (src, tst), "no-change",
                    NO_EDIT, (repair,))  # fmt: skip


def _cycle(path: str, evidence: str, versions: tuple[str, ...]) -> tuple[Repair, ...]:
    """Repairs that replace each wrong version by the next one, the last by the first."""
    return tuple(
        Repair(evidence, (Edit(path, old, versions[(i + 1) % len(versions)]),), state=old)
        for i, old in enumerate(versions)
    )


# -- the Python repository: src/ledger, pytest, mypy --strict --------------------------------


def _pytest(module: str, names: str, body: str) -> str:
    return f"from ledger.{module} import {names}\n\n\n{body}"


PYTHON_FILES = {
    "pyproject.toml": (
        '[project]\nname = "ledger"\nversion = "0.1.0"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["src"]\n'
        # the runner's interpreter carries its own dev plugins; they only slow pytest down
        'addopts = "-p no:schemathesis -p no:hypothesispytest -p no:trio -p no:anyio"\n'
    ),
    ".gitignore": "__pycache__/\n.coverage\n",
    "README.md": "# ledger\n\nSmall money helpers.\n",
    "src/ledger/__init__.py": "",
    "src/ledger/money.py": (
        'def add_cents(a: int, b: int) -> int:\n    """Add two amounts in cents."""\n'
        "    return a + b\n"
    ),
    "src/ledger/fees.py": (
        "def fee(amount: int) -> int:\n"
        '    """The fee in cents for a payment of ``amount`` cents."""\n    return 100\n'
    ),
    "tests/test_money.py": _pytest(
        "money", "add_cents", "def test_add_cents() -> None:\n    assert add_cents(2, 3) == 5\n"
    ),
    "tests/test_fees.py": _pytest(
        "fees", "fee", "def test_flat_fee() -> None:\n    assert fee(1000) == 100\n"
    ),
    "docs/DevTeam/task_outcomes.md": "# Task outcomes\n",
}

_SPLIT = (
    "def split_evenly(total: int, parts: int) -> list[int]:\n"
    '    """Split ``total`` cents into ``parts`` shares that add up to ``total``."""\n'
)
_SPLIT_WRONG = "    share = total // parts\n    return [share] * parts\n"
_SPLIT_RIGHT = (
    "    share, rest = divmod(total, parts)\n"
    "    return [share + 1 if i < rest else share for i in range(parts)]\n"
)
_AMOUNT = 'def parse_amount(text: str) -> int:\n    """Parse ``"19.99"`` into cents."""\n'
_AMOUNT_WRONG = "    return int(float(text) * 100)\n"  # 19.99 * 100 == 1998.999...
_AVERAGE = (
    "def average(values: list[int]) -> int:\n"
    '    """The mean of ``values``."""\n    return sum(values) / len(values)\n'
)
_BALANCE_TEST = '    assert describe_balance(250) == "in credit by 250 cents"\n'
_FEE_WRONG = (  # no minimum: 2 % of 1000 is 20, not 100
    Edit("src/ledger/fees.py", "    return 100\n", "    return amount * 2 // 100\n"),
    Edit(
        "tests/test_fees.py",
        "def test_flat_fee() -> None:\n    assert fee(1000) == 100\n",
        "def test_fee_has_a_minimum() -> None:\n    assert fee(1000) == 100\n\n\n"
        "def test_fee_is_two_percent() -> None:\n    assert fee(20000) == 400\n",
    ),
)
_GRADES = (  # three wrong thresholds, each "fixing" the previous one and breaking another
    '    if score > 90:\n        return "A"\n    if score > 80:\n        return "B"\n'
    '    if score > 70:\n        return "C"\n',
    '    if score >= 90:\n        return "A"\n    if score >= 80:\n        return "B"\n'
    '    if score >= 60:\n        return "C"\n',
    '    if score >= 90:\n        return "A"\n    if score > 80:\n        return "B"\n'
    '    if score >= 70:\n        return "C"\n',
)


def _python_tasks() -> list[Task]:
    def module(name: str, title: str, description: str) -> _Module:
        return _Module("python", name, title, description)

    src = {name: paths("python", name)[0] for name in ("total", "average", "weekend", "balance")}
    return [
        module("slug", "Add slugify", "Add slugify(text) to src/ledger/slug.py.").task(
            "1.1.1", "right",
            "import re\n\n\ndef slugify(text: str) -> str:\n"
            '    """Lower-case ``text`` and join its words with hyphens."""\n'
            '    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))\n',
            _pytest("slug", "slugify", "def test_slugify() -> None:\n"
                    '    assert slugify("Hello, World!") == "hello-world"\n'),
        ),
        module("ratio", "Add percent", "Add percent(part, whole) to src/ledger/ratio.py: "
               "0 when whole is 0, else rounded to one decimal.").task(
            "1.1.2", "right",
            "def percent(part: float, whole: float) -> float:\n"
            '    """``part`` as a percentage of ``whole`` (0 when ``whole`` is 0)."""\n'
            "    if whole == 0:\n        return 0.0\n    return round(100 * part / whole, 1)\n",
            _pytest("ratio", "percent", "def test_percent() -> None:\n"
                    "    assert percent(1, 3) == 33.3\n    assert percent(5, 0) == 0.0\n"),
        ),
        module("clamp", "Add clamp", "Add clamp(value, low, high) to src/ledger/clamp.py.").task(
            "1.1.3", "right",
            "def clamp(value: int, low: int, high: int) -> int:\n"
            '    """``value`` limited to ``low``..``high``."""\n'
            "    return max(low, min(value, high))\n",
            _pytest("clamp", "clamp", "def test_clamp() -> None:\n"
                    "    assert [clamp(v, 0, 10) for v in (-5, 5, 15)] == [0, 5, 10]\n"),
        ),
        module("split", "Split an amount evenly", "Add split_evenly(total, parts) to "
               "src/ledger/split.py: the shares differ by at most one cent and add up to "
               "total.").task(
            "1.2.1", "test", _SPLIT + _SPLIT_WRONG,
            _pytest("split", "split_evenly", "def test_split_keeps_remainder() -> None:\n"
                    "    assert split_evenly(10, 3) == [4, 3, 3]\n"),
            Repair(failing_test("tests/test_split.py::test_split_keeps_remainder"),
                   (Edit("src/ledger/split.py", _SPLIT_WRONG, _SPLIT_RIGHT),)),
        ),
        module("amount", "Parse an amount", "Add parse_amount(text) to src/ledger/amount.py: "
               '"19.99" is 1999 cents.').task(
            "1.2.2", "test", _AMOUNT + _AMOUNT_WRONG,
            _pytest("amount", "parse_amount", "def test_parse_amount() -> None:\n"
                    '    assert [parse_amount(x) for x in ("5", "19.99", "0.29")] == '
                    "[500, 1999, 29]\n"),
            Repair(failing_test("tests/test_amount.py::test_parse_amount"),
                   (Edit("src/ledger/amount.py", _AMOUNT_WRONG,
                         "    return round(float(text) * 100)\n"),)),
        ),
        module("total", "Add total", "Add total(values) to src/ledger/total.py.").task(
            "1.2.3", "type",
            'def total(values):\n    """The sum of ``values`` in cents."""\n'
            "    return sum(values)\n",
            _pytest("total", "total", "def test_total() -> None:\n"
                    "    assert total([100, 250]) == 350\n"),
            Repair(type_error(src["total"]), (Edit(
                src["total"], "def total(values):\n", "def total(values: list[int]) -> int:\n"),)),
        ),
        module("average", "Add average", "Add average(values) to src/ledger/average.py.").task(
            "1.2.4", "type", _AVERAGE,
            _pytest("average", "average", "def test_average() -> None:\n"
                    "    assert average([2, 4]) == 3\n"),
            Repair(type_error(src["average"]), (Edit(
                src["average"], "def average(values: list[int]) -> int:\n",
                "def average(values: list[int]) -> float:\n"),)),
        ),
        module("weekend", "Add is_weekend", "Add is_weekend(day) to src/ledger/weekend.py.").task(
            "1.3.1", "cover",
            "from datetime import date\n\n\ndef is_weekend(day: date) -> bool:\n"
            '    """Whether ``day`` is a Saturday or a Sunday."""\n'
            "    return day.weekday() >= 5\n",
            None,
            Repair(uncovered(src["weekend"]), _new((paths("python", "weekend")[1], (
                "from datetime import date\n\n" + _pytest(
                    "weekend", "is_weekend", "def test_is_weekend() -> None:\n"
                    "    assert is_weekend(date(2024, 6, 1))\n"
                    "    assert not is_weekend(date(2024, 6, 3))\n"))))),
        ),
        module("balance", "Describe a balance", "Add describe_balance(cents) to "
               "src/ledger/balance.py: in credit, overdrawn or empty.").task(
            "1.3.2", "cover",
            "def describe_balance(cents: int) -> str:\n"
            '    """Say whether an account is in credit, overdrawn or empty."""\n'
            '    if cents > 0:\n        return f"in credit by {cents} cents"\n'
            '    if cents < 0:\n        return f"overdrawn by {-cents} cents"\n'
            '    return "empty"\n',
            _pytest("balance", "describe_balance", "def test_in_credit() -> None:\n"
                    + _BALANCE_TEST),
            Repair(uncovered(src["balance"]), (Edit(
                "tests/test_balance.py", _BALANCE_TEST, _BALANCE_TEST
                + "\n\ndef test_overdrawn_and_empty() -> None:\n"
                '    assert describe_balance(-5) == "overdrawn by 5 cents"\n'
                '    assert describe_balance(0) == "empty"\n'),)),
        ),
        module("initials", "Add initials", "Add initials(name) to "
               "src/ledger/initials.py.").no_change_first(
            "1.3.3",
            "def initials(name: str) -> str:\n"
            '    """The upper-case initials of ``name``: ``"ada lovelace"`` -> ``"AL"``."""\n'
            '    return "".join(word[0].upper() for word in name.split())\n',
            _pytest("initials", "initials", "def test_initials() -> None:\n"
                    '    assert initials("ada lovelace") == "AL"\n'),
        ),
        Task("python", "1.4.1", "Charge a percentage fee", "Make fee(amount) in "
             "src/ledger/fees.py charge 2 % of the amount, at least 100 cents.",
             paths("python", "fees"), "never", _FEE_WRONG),
        module("grade", "Add grade", "Add grade(score) to src/ledger/grade.py: A from 90, "
               "B from 80, C from 70, else F.").task(
            "1.4.2", "never",
            'def grade(score: int) -> str:\n    """The letter grade of ``score``."""\n'
            + _GRADES[0] + '    return "F"\n',
            _pytest("grade", "grade", "def test_grades() -> None:\n"
                    "    scores = (95, 90, 85, 80, 75, 70, 65, 50)\n"
                    '    assert [grade(s) for s in scores] == '
                    '["A", "A", "B", "B", "C", "C", "F", "F"]\n'),
            *_cycle("src/ledger/grade.py",
                    failing_test("tests/test_grade.py::test_grades"), _GRADES),
        ),
    ]  # fmt: skip


# -- the TypeScript repository: src/*.ts, vitest + istanbul, tsc --strict -------------------


def _vitest(module: str, names: str, title: str, body: str) -> str:
    return (
        f'import {{ expect, test }} from "vitest";\nimport {{ {names} }} from "../src/{module}";'
        f'\n\ntest("{title}", () => {{\n{body}}});\n'
    )


def ts_files() -> dict[str, str]:
    """The TypeScript repository's files (the pinned toolchain of tests/fixtures/ts-toolchain)."""
    toolchain = FIXTURES / "ts-toolchain"
    package = json.loads((toolchain / "package.json").read_text(encoding="utf-8"))
    compiler = {"strict": True, "target": "ES2022", "module": "ESNext",
                "moduleResolution": "Bundler", "noEmit": True, "skipLibCheck": True}  # fmt: skip
    return {
        "package.json": json.dumps(
            {
                "name": "shop",
                "private": True,
                "type": "module",
                "scripts": {"test": "vitest run"},
                "devDependencies": package["devDependencies"],
            },
            indent=2,
        )
        + "\n",
        "package-lock.json": (toolchain / "package-lock.json").read_text(encoding="utf-8"),
        "tsconfig.json": json.dumps(
            {"compilerOptions": compiler, "include": ["src", "tests"]}, indent=2
        )
        + "\n",
        ".gitignore": "node_modules/\ncoverage/\n",
        "README.md": "# shop\n\nStorefront helpers.\n",
        "src/money.ts": "export function addCents(a: number, b: number): number {\n"
        "  return a + b;\n}\n",
        "src/greet.ts": _GREET,
        "tests/money.test.ts": _vitest(
            "money", "addCents", "adds cents", "  expect(addCents(2, 3)).toBe(5);\n"
        ),
        "tests/greet.test.ts": _GREET_TEST,
        "docs/DevTeam/task_outcomes.md": "# Task outcomes\n",
    }


_GREET = "export function greet(name: string): string {\n  return `Hello, ${name}`;\n}\n"
_GREET_TEST = _vitest(
    "greet", "greet", "greets by name", '  expect(greet("Ann")).toBe("Hello, Ann");\n'
)
_GREET_WRONG = (  # 12:00 is afternoon
    Edit("src/greet.ts", _GREET,
         "export function greet(name: string, hour: number): string {\n"
         "  return hour <= 12 ? `Good morning, ${name}` : `Good afternoon, ${name}`;\n}\n"),
    Edit("tests/greet.test.ts", _GREET_TEST, _vitest(
        "greet", "greet", "greets by the time of day",
        '  expect(greet("Ann", 9)).toBe("Good morning, Ann");\n'
        '  expect(greet("Ann", 12)).toBe("Good afternoon, Ann");\n')),
)  # fmt: skip
_PAD = "export function padId(id: number, width: number): string {\n"
_PAD_WRONG = '  return String(id).padEnd(width, "0");\n'
_MEDIAN = (
    "export function median(values: number[]): number {\n"
    "  const sorted = [...values];\n"
    "  const mid = Math.floor(sorted.length / 2);\n"
    "  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;\n}\n"
)
_PORT = (
    "export function parsePort(text: string): number {\n"
    "  const port = Number.parseInt(text, 10);\n"
    "  return Number.isNaN(port) ? null : port;\n}\n"
)
_PRICES = (  # a type error, then two wrong formats
    "  return cents / 100;\n",
    '  return "$" + cents / 100;\n',
    '  return "$" + (cents / 100).toFixed(1);\n',
)


def _ts_tasks() -> list[Task]:
    def module(name: str, title: str, description: str) -> _Module:
        return _Module("ts", name, title, description)

    price_evidence = f"{failing_test('tests/price.test.ts > ')}|{type_error('src/price.ts')}"
    return [
        module("capitalize", "Add capitalize", "Add capitalize(text) to "
               "src/capitalize.ts.").task(
            "1.1.1", "right",
            "export function capitalize(text: string): string {\n"
            "  return text.charAt(0).toUpperCase() + text.slice(1);\n}\n",
            _vitest("capitalize", "capitalize", "capitalizes the first letter",
                    '  expect(capitalize("hello")).toBe("Hello");\n'),
        ),
        module("total", "Sum the values", "Add total(values) to src/total.ts.").task(
            "1.1.2", "right",
            "export function total(values: number[]): number {\n"
            "  return values.reduce((sum, value) => sum + value, 0);\n}\n",
            _vitest("total", "total", "adds the values",
                    "  expect(total([1, 2, 3])).toBe(6);\n  expect(total([])).toBe(0);\n"),
        ),
        module("chunk", "Add chunk", "Add chunk(items, size) to src/chunk.ts.").task(
            "1.1.3", "right",
            "export function chunk<T>(items: T[], size: number): T[][] {\n"
            "  const chunks: T[][] = [];\n"
            "  for (let i = 0; i < items.length; i += size) {\n"
            "    chunks.push(items.slice(i, i + size));\n  }\n  return chunks;\n}\n",
            _vitest("chunk", "chunk", "splits into chunks",
                    "  expect(chunk([1, 2, 3], 2)).toEqual([[1, 2], [3]]);\n"),
        ),
        module("pad", "Pad an id", "Add padId(id, width) to src/pad.ts: leading zeros.").task(
            "1.2.1", "test", _PAD + _PAD_WRONG + "}\n",
            _vitest("pad", "padId", "pads with leading zeros",
                    '  expect(padId(7, 3)).toBe("007");\n'),
            Repair(failing_test("tests/pad.test.ts > pads with leading zeros"), (Edit(
                "src/pad.ts", _PAD_WRONG, '  return String(id).padStart(width, "0");\n'),)),
        ),
        module("median", "Add median", "Add median(values) to src/median.ts.").task(
            "1.2.2", "test", _MEDIAN,
            _vitest("median", "median", "finds the middle value",
                    "  expect(median([3, 1, 2])).toBe(2);\n"
                    "  expect(median([4, 1, 3, 2])).toBe(2.5);\n"),
            Repair(failing_test("tests/median.test.ts > finds the middle value"), (Edit(
                "src/median.ts", "  const sorted = [...values];\n",
                "  const sorted = [...values].sort((a, b) => a - b);\n"),)),
        ),
        module("double", "Add double", "Add double(value) to src/double.ts.").task(
            "1.2.3", "type", "export function double(value) {\n  return value * 2;\n}\n",
            _vitest("double", "double", "doubles", "  expect(double(4)).toBe(8);\n"),
            Repair(type_error("src/double.ts"), (Edit(
                "src/double.ts", "export function double(value) {\n",
                "export function double(value: number): number {\n"),)),
        ),
        module("port", "Parse a port", "Add parsePort(text) to src/port.ts: null when "
               "the text is not a number.").task(
            "1.2.4", "type", _PORT,
            _vitest("port", "parsePort", "parses a port",
                    '  expect(parsePort("8080")).toBe(8080);\n'),
            Repair(type_error("src/port.ts"), (Edit(
                "src/port.ts", "export function parsePort(text: string): number {\n",
                "export function parsePort(text: string): number | null {\n"),)),
        ),
        module("email", "Check an email address", "Add isEmail(text) to src/email.ts.").task(
            "1.3.1", "cover",
            "export function isEmail(text: string): boolean {\n"
            "  return /^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$/.test(text);\n}\n",
            None,
            Repair(uncovered("src/email.ts"), _new(("tests/email.test.ts", _vitest(
                "email", "isEmail", "checks addresses",
                '  expect(isEmail("ann@example.com")).toBe(true);\n'
                '  expect(isEmail("ann@")).toBe(false);\n')))),
        ),
        module("truncate", "Add truncate", "Add truncate(text, max) to "
               "src/truncate.ts.").no_change_first(
            "1.3.2",
            "export function truncate(text: string, max: number): string {\n"
            "  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;\n}\n",
            _vitest("truncate", "truncate", "truncates long text",
                    '  expect(truncate("hello world", 6)).toBe("hello…");\n'
                    '  expect(truncate("hi", 6)).toBe("hi");\n'),
        ),
        Task("ts", "1.4.1", "Greet by the time of day", "Make greet(name, hour) in "
             "src/greet.ts say Good morning before 12:00, else Good afternoon.",
             paths("ts", "greet"), "never", _GREET_WRONG),
        module("price", "Format a price", "Add formatPrice(cents) to src/price.ts: 1999 is "
               '"$19.99".').task(
            "1.4.2", "never",
            "export function formatPrice(cents: number): string {\n" + _PRICES[0] + "}\n",
            _vitest("price", "formatPrice", "formats cents as dollars",
                    '  expect(formatPrice(1999)).toBe("$19.99");\n'
                    '  expect(formatPrice(500)).toBe("$5.00");\n'),
            *_cycle("src/price.ts", price_evidence, _PRICES),
        ),
    ]  # fmt: skip


TASKS: tuple[Task, ...] = (*_python_tasks(), *_ts_tasks())
"""The corpus: 12 Python and 11 TypeScript tasks."""

_GROUPS = {"1.1": "Helpers", "1.2": "Calculations", "1.3": "Checks", "1.4": "Changes"}


def task_list(tasks: list[Task]) -> str:
    """The task list of ``tasks`` in the field style, every task without dependencies."""
    lines = ["# Tasks", "", "## Phase 1: Helpers", ""]
    group = None
    for task in tasks:
        prefix = task.task_id.rsplit(".", 1)[0]
        if prefix != group:
            lines += [f"### {prefix} {_GROUPS[prefix]}", ""]
            group = prefix
        files = ", ".join(f"`{name}`" for name in task.files)
        lines += [
            f"#### {task.task_id} {task.title}",
            f"- **Description**: {task.description}",
            "- **Status**: pending",
            "- **Dependencies**: none",
            f"- **Files**: {files}",
            "",
        ]
    return "\n".join(lines)
