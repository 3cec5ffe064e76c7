"""The repository keeps its promises: README's two commands exist and CI runs the test one."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _fresh_machine_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Fresh machine", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_shows_exactly_two_commands_that_exist() -> None:
    commands = _fresh_machine_commands()
    assert commands == ["bash tools/quickstart.sh", "bash tools/test.sh"], commands
    for command in commands:
        script = REPO / command.split()[1]
        assert script.is_file(), script
        assert os.access(script, os.X_OK), f"{script} is not executable"


def test_ci_runs_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "bash tools/test.sh" in ci
    assert "RECUTILS_REQUIRE_DATA=1" in ci
    assert "RECUTILS_DATA_MIRROR" in ci


def test_test_runner_installs_cpu_torch_before_extras() -> None:
    lines = (REPO / "tools" / "test.sh").read_text().splitlines()
    torch_line = next(i for i, line in enumerate(lines) if '"torch==2.13.0"' in line)
    extras_line = next(i for i, line in enumerate(lines) if '-e ".[' in line)
    assert torch_line < extras_line


def test_every_registered_model_has_a_row_in_the_algorithm_table() -> None:
    from recutils.models import list_models

    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("### Algorithms") : readme.index("### Scenarios")]
    missing = [name for name in list_models() if f"`{name}`" not in table]
    assert not missing, f"README's algorithm table lacks the registry name(s) {missing}"
