"""One verification's state, the processes it runs, and the setup that comes first.

:class:`Session` holds what :func:`runner.verify.verify` learns and produces: the repo's
``.devteam.toml``, the toolchain, the child environment, the verdicts, the artifacts and the
time spent in child processes. :meth:`Session.setup` installs dependencies before anything
is planned (:func:`plan_gates` then plans from what is installed).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio

from runner.config import ResourceLimits, Settings
from runner.errors import VerifyError
from runner.process import LineCallback, OutputTail, run_process
from runner.redact import Redactor
from runner.verify.commands import (
    CheckPlan,
    TestPlan,
    needs_node_install,
    plan_lint,
    plan_tests,
    plan_typecheck,
)
from runner.verify.criteria import (
    COVERAGE,
    LINT_CLEAN,
    TESTS_PASS,
    TYPE_STRICT,
    Criterion,
    CriterionResult,
)
from runner.verify.detect import (
    Command,
    Toolchain,
    VerifyConfig,
    child_environment,
    detect_toolchain,
    load_verify_config,
    node_limits,
)
from runner.verify.explain import combined, failure
from runner.verify.install import install_node_modules

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runner.process import ProcessResult

__all__ = ["GatePlans", "Session", "plan_gates", "prepare", "with_details"]


def _tool_module(command: Command) -> list[str]:
    """Return the modules a ``python -m X`` command (or ``coverage run -m pytest``) needs."""
    return [command[i + 1] for i, arg in enumerate(command[:-1]) if arg == "-m"]


@attrs.frozen
class GatePlans:
    """The gates to run; None where no criterion needs one."""

    test: TestPlan | None
    typecheck: CheckPlan | None
    lint: CheckPlan | None


def plan_gates(
    tree: Path, wanted: set[str], chain: Toolchain, config: VerifyConfig, work: Path
) -> GatePlans:
    """Plan the gates from what setup installed (blocking file reads; runs in a thread)."""
    git_dir = tree / ".git"
    cache = git_dir / "devteam-verify" / "mypy" if git_dir.is_dir() else work / "mypy"
    needs_tests = bool(wanted & {COVERAGE, TESTS_PASS})
    return GatePlans(
        test=plan_tests(tree, chain, config, work, coverage=COVERAGE in wanted)
        if needs_tests
        else None,
        typecheck=plan_typecheck(tree, chain, config, cache) if TYPE_STRICT in wanted else None,
        lint=plan_lint(tree, chain, config) if LINT_CLEAN in wanted else None,
    )


def with_details(result: CriterionResult, **extra: Any) -> CriterionResult:
    """Return ``result`` with ``extra`` added to its details."""
    return attrs.evolve(result, details={**result.details, **extra})


@attrs.define
class Session:
    """One verification's state: configuration, environment, results, artifacts, times."""

    repo: Path
    criteria: dict[str, Criterion]
    changed: Sequence[str]
    settings: Settings
    redactor: Redactor
    base: str | None = None
    on_line: LineCallback | None = None
    work: Path = Path()
    config: VerifyConfig = attrs.field(factory=VerifyConfig)
    chain: Toolchain | None = None
    env: dict[str, str] = attrs.field(factory=dict)
    limits: ResourceLimits | None = None
    results: dict[str, CriterionResult] = attrs.field(factory=dict)
    artifacts: dict[str, str] = attrs.field(factory=dict)
    gate_time: dict[str, float] = attrs.field(factory=dict)
    notes: list[str] = attrs.field(factory=list)

    def artifact(self, name: str, text: str) -> None:
        """Store ``text`` redacted, keeping its head and tail within ``output_cap_bytes``."""
        cap = self.settings.output_cap_bytes
        data = self.redactor(text).encode("utf-8")
        if len(data) > cap:
            head = data[: cap // 4].decode("utf-8", errors="ignore")
            kept = data[-(cap - cap // 4) :].decode("utf-8", errors="ignore")
            text = f"{head}\n[... output truncated; the last part follows ...]\n{kept}"
        else:
            text = data.decode("utf-8")
        self.artifacts[name] = text

    async def run(
        self,
        gate: str,
        command: Command,
        extra_env: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
        output: tuple[OutputTail, OutputTail] | None = None,
    ) -> ProcessResult:
        """Run one child process of ``gate`` and account for its time.

        Each output line goes to ``on_line`` as it is printed, tagged with the gate (gates run
        concurrently); it is redacted where it leaves the process (the customer's journal).
        """
        on_line = self.on_line
        tagged: LineCallback | None = None
        if on_line is not None:

            def tagged(stream: str, line: str) -> None:
                on_line(stream, f"[{gate}] {line}")

        started = trio.current_time()
        try:
            result = await run_process(
                command,
                cwd=cwd or self.repo,
                env={**self.env, **(extra_env or {})},
                limits=self.limits,
                output_cap=self.settings.output_cap_bytes,
                output=output,
                on_line=tagged,
            )
        except OSError as exc:
            raise VerifyError(
                f"{gate}: cannot run {command[0]}: {exc.strerror or exc}", code="verify_failed"
            ) from None
        finally:
            spent = trio.current_time() - started
            self.gate_time[gate] = self.gate_time.get(gate, 0.0) + spent
        if not result.ok:
            output_text = combined(result.stdout, result.stderr)
            for module in _tool_module(command):
                if re.search(rf"No module named '?{re.escape(module)}'?\s*$", output_text, re.M):
                    raise VerifyError(
                        f"{module} is not installed for {command[0]} (PYTHON_PATH)",
                        code="verify_failed",
                    )
        return result

    def judge(self, result: CriterionResult) -> None:
        """Record a criterion's verdict."""
        self.results[result.name] = result

    async def setup(self, tree: Path, artifact: str) -> bool:
        """Install ``tree``'s dependencies; return False when setup failed on the base.

        Raises:
            VerifyError: the branch's setup failed (first error lines, tail, command, exit).
        """
        assert self.chain is not None
        if self.config.setup is not None:
            result = await self.run("setup", self.config.setup, cwd=tree)
            output = combined(result.stdout, result.stderr)
            self.artifact(artifact, output)
            if result.ok:
                return True
            if tree != self.repo:
                return False
            raise failure("setup", result.args, result.returncode, output, artifact=artifact)
        cache = self.settings.dependency_cache
        if not needs_node_install(tree, self.chain, self.config, cache):
            return True
        install = await install_node_modules(
            tree,
            self.chain.require_npm(),
            cache,
            install_scripts=self.config.install_scripts,
            run=lambda command: self.run("setup", command, cwd=tree),
        )
        output = "\n".join(combined(r.stdout, r.stderr) for r in install.results)
        if install.results:
            self.artifact(artifact, output)
        if install.note and tree == self.repo:
            self.notes.append(install.note)
        if install.ok or tree != self.repo:
            return install.ok
        last = install.results[-1]
        what = f"npm {last.args[1]}"
        if install.note is not None:
            what = f"package-lock.json is out of sync with package.json; then {what}"
        raise failure(what, last.args, last.returncode, output, artifact=artifact)

    def toolchain(self) -> Toolchain:
        """The detected toolchain (after :func:`prepare`)."""
        assert self.chain is not None
        return self.chain

    def detect(self, tree: Path) -> Toolchain:
        """Detect the toolchain of ``tree`` (blocking; call in a thread)."""
        settings = self.settings
        return detect_toolchain(
            tree, python_path=settings.python_path, node_path=settings.node_path
        )


def prepare(verification: Session) -> None:
    """Read the configuration and the toolchain; make the work directory (in a thread)."""
    repo, settings = verification.repo, verification.settings
    verification.config = load_verify_config(repo)
    verification.chain = verification.detect(repo)
    verification.work = Path(tempfile.mkdtemp(prefix="devteam-verify-"))
    env = child_environment(verification.chain.path, verification.work)
    verification.env = {**env, **settings.verify_env, **verification.config.env}
    verification.limits = settings.limits
    if verification.chain.language == "node":
        verification.limits = node_limits(settings.limits, verification.env)
