"""The fast paths of the parser agree with the general ones (bare names, unmarked texts)."""

from __future__ import annotations

from runner.tasks import parse_task_list, select_next
from tests.tasks.conftest import get

STRADDLING = """\
1.1 Store
1.1.1 Fix devTeamSlice.js
1.1.2 Edit src/store/[devTeam](docs/a.md)Slice.js with care
"""

FIELD_DESCRIPTION = """\
#### 1.1.1 Fix the slice
- **Description**: Fix devTeamSlice.js
- **Status**: pending

#### 1.1.2 Write it
- **Description**: Write [the slice](src/store/devTeamSlice.js)
"""

UNMARKED = """\
Phase 1 — Core (Dependencies: [src/app.js](src/app.js))
1.1 Setup
1.1.1 Add the flag to src/config.js. ✅
1.1.2 Read the flag in src/app.js
    - **Files**: src/app.js
1.1.A Validate
    - <criterion 1: Works>  [source: prd.md](docs/prd.md)
"""


def test_bare_name_is_completed_through_a_straddling_link() -> None:
    task_list = parse_task_list(STRADDLING)
    assert get(task_list, "1.1.1").files == ("src/store/devTeamSlice.js",)


def test_bare_name_is_completed_through_a_field_description() -> None:
    task_list = parse_task_list(FIELD_DESCRIPTION)
    assert get(task_list, "1.1.1").files == ("src/store/devTeamSlice.js",)


def test_text_without_comment_markers_reads_as_with_an_inert_comment() -> None:
    plain = parse_task_list(UNMARKED)
    # an empty, closed comment block after the list switches to the line-by-line path
    marked = parse_task_list(UNMARKED + "<!-- -->\n")
    assert plain.tasks == marked.tasks
    assert plain.groups == marked.groups
    assert plain.warnings == marked.warnings
    assert select_next(plain) == select_next(marked)
    assert get(plain, "1.1.1").done
    assert select_next(plain).task == get(plain, "1.1.2")
