"""A small Python repository with a three-task list, and a scripted coding tool for it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from tests.helpers.gitrepo import make_remote

if TYPE_CHECKING:
    from pathlib import Path

TASKS = """# Tasks

Phase 1 — Calculator (Dependencies: none)

1.1 Operations (Dependencies: none)
1.1.1 Add sub function to [calc/ops.py](calc/ops.py).
1.1.2 Add mul function to [calc/ops.py](calc/ops.py).
1.1.3 Add div function to [calc/ops.py](calc/ops.py).
1.1.A Validate outputs of Task 1.1
1.1.B Verify correctness of Task 1.1 against acceptance criteria
    - <criterion 1: every operation is tested>  [source: README.md](README.md)
1.1.C Document results of Task 1.1 in task_outcomes.md
"""

FILES = {
    "pyproject.toml": (
        '[project]\nname = "calc"\nversion = "0.1.0"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n'
        'addopts = "-p no:schemathesis -p no:hypothesispytest -p no:trio -p no:anyio"\n'
    ),
    ".gitignore": "__pycache__/\n.coverage\n",
    "README.md": "# calc\n",
    "calc/__init__.py": "",
    "calc/ops.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
    "tests/__init__.py": "",
    "tests/test_ops.py": (
        "from calc.ops import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"
    ),
    "docs/DevTeam/tasks_list.md": TASKS,
    "docs/DevTeam/task_outcomes.md": "# Task outcomes\n",
}

# The scripted "coding agent": adds the function the task names, a test, and a doc line.
# Behaviour per task can be changed through files next to the script:
#   hang-<task>   sleep (writes its pid to <script dir>/pid-<task>) until killed
#   break-<task>  add a wrong implementation (its test fails)
TOOL = """
import os, pathlib, time
task = os.environ["DEVTEAM_TASK_ID"]
here = pathlib.Path(__file__).parent
if (here / f"hang-{task}").exists():
    (here / f"pid-{task}").write_text(str(os.getpid()))
    time.sleep(300)
plans = {"1.1.1": ("sub", "-", 3), "1.1.2": ("mul", "*", 18), "1.1.3": ("div", "//", 2)}
name, op, want = plans[task]
if (here / f"break-{task}").exists():
    op = "+"
ops = pathlib.Path("calc/ops.py")
body = f"\\n\\ndef {name}(a: int, b: int) -> int:\\n    return a {op} b\\n"
ops.write_text(ops.read_text() + body)
test = pathlib.Path("tests/test_ops.py")
test.write_text(
    test.read_text().replace("from calc.ops import ", f"from calc.ops import {name}, ", 1)
    + f"\\n\\ndef test_{name}() -> None:\\n    assert {name}(6, 3) == {want}\\n"
)
doc = pathlib.Path("docs/DevTeam/task_outcomes.md")
doc.write_text(doc.read_text() + f"- {task}: added {name}\\n")
print(f"edited calc/ops.py for {task}; token ghp_{'A' * 36}")
"""


def make_calc_remote(root: Path) -> Path:
    """Create the bare remote ``root/calc.git``."""
    return make_remote(root / "calc.git", FILES)


def make_tool(root: Path) -> tuple[str, ...]:
    """Write the scripted tool under ``root/tool`` and return its command line."""
    tool_dir = root / "tool"
    tool_dir.mkdir(parents=True, exist_ok=True)
    script = tool_dir / "agent.py"
    script.write_text(TOOL)
    return (sys.executable, str(script))
