"""Run the code that the documentation shows, so that the docs cannot drift from the code.

A snippet is a fenced code block (```python or ```bash) in a Markdown file, directly preceded by a
line ``<!-- snippet: NAME -->``. Blocks with the same name form one snippet, run in document order:
the Python blocks of a name concatenated into one script, the bash blocks one after another in one
shell (``set -euo pipefail``). A test names the file and the snippet and runs exactly that text::

    from tests._docsnippets import run_snippet

    def test_top10_in_python(tmp_path):
        result = run_snippet("README.md", "top10-python", cwd=tmp_path)
        assert "map@10" in result.stdout

Snippets run in a fresh process with this interpreter's environment (its ``bin`` folder first on
``PATH``, so ``python`` and ``recutils`` are the ones under test) and the repository on
``PYTHONPATH``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

_MARK = re.compile(r"^\s*<!--\s*snippet:\s*([A-Za-z0-9_.-]+)\s*-->\s*$")
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([A-Za-z0-9_+-]*)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block of a named snippet."""

    name: str
    language: str
    code: str
    line: int


def snippet_blocks(path: str | Path) -> list[Block]:
    """Every named block of a Markdown file, in document order.

    Raises ``ValueError`` for a marker not followed by a fenced block, or a fence left open.
    """
    path = Path(path)
    if not path.is_absolute():
        path = REPO_ROOT / path
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        mark = _MARK.match(lines[i])
        if not mark:
            i += 1
            continue
        name = mark.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        fence = _FENCE.match(lines[j]) if j < len(lines) else None
        if fence is None:
            raise ValueError(
                f"{path}:{i + 1}: snippet {name!r} is not followed by a fenced code block"
            )
        indent, ticks, language = fence.groups()
        body: list[str] = []
        k = j + 1
        while k < len(lines) and lines[k].strip() != ticks:
            body.append(lines[k][len(indent) :] if lines[k].startswith(indent) else lines[k])
            k += 1
        if k >= len(lines):
            raise ValueError(f"{path}:{j + 1}: code block of snippet {name!r} is never closed")
        blocks.append(Block(name, language.lower() or "text", "\n".join(body) + "\n", j + 2))
        i = k + 1
    return blocks


def snippet(path: str | Path, name: str) -> list[Block]:
    """The blocks of snippet ``name`` in ``path``; ``KeyError`` when the file has none."""
    found = [b for b in snippet_blocks(path) if b.name == name]
    if not found:
        raise KeyError(f"no snippet {name!r} in {path}")
    return found


def snippet_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a snippet runs in: this interpreter first on PATH, the repository importable."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(REPO_ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env.setdefault("MPLBACKEND", "Agg")
    if extra:
        env.update(extra)
    return env


def run_snippet(
    path: str | Path,
    name: str,
    *,
    cwd: str | Path,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run snippet ``name`` of ``path`` in ``cwd``: its Python blocks as one script, else its bash blocks.

    A snippet must be all Python or all bash. With ``check`` (the default) a non-zero exit raises
    ``AssertionError`` carrying the snippet's output.
    """
    blocks = snippet(path, name)
    languages = {b.language for b in blocks}
    if languages <= {"python", "py"}:
        cmd = [sys.executable, "-c", "".join(b.code for b in blocks)]
    elif languages <= {"bash", "sh", "console", "shell"}:
        script = "set -euo pipefail\n" + "".join(b.code for b in blocks)
        cmd = ["bash", "-c", script]
    else:
        raise ValueError(
            f"snippet {name!r} of {path} mixes or uses unsupported languages: {sorted(languages)}"
        )
    result = subprocess.run(
        cmd, cwd=str(cwd), env=snippet_env(env), capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snippet {name!r} of {path} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
        )
    return result
