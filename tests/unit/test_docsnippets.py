"""The documentation-snippet runner finds, joins and runs exactly the marked blocks."""

from __future__ import annotations

import pytest

from tests._docsnippets import run_snippet, snippet, snippet_blocks

DOC = """# Title

<!-- snippet: demo -->
```python
x = 2
```

Some prose.

```python
raise SystemExit("an unmarked block never runs")
```

<!-- snippet: demo -->

```python
print(x * 21)
```

<!-- snippet: shell -->
```bash
echo "hello $((40 + 2))"
```
"""


def test_blocks_are_found_in_order_and_unmarked_blocks_ignored(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(DOC)
    blocks = snippet_blocks(doc)
    assert [(b.name, b.language) for b in blocks] == [
        ("demo", "python"),
        ("demo", "python"),
        ("shell", "bash"),
    ]
    assert [b.code for b in snippet(doc, "demo")] == ["x = 2\n", "print(x * 21)\n"]


def test_python_blocks_of_one_name_run_as_one_script(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(DOC)
    assert run_snippet(doc, "demo", cwd=tmp_path).stdout.strip() == "42"
    assert run_snippet(doc, "shell", cwd=tmp_path).stdout.strip() == "hello 42"


def test_failures_and_bad_markup_are_reported(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "<!-- snippet: bad -->\n```python\nraise SystemExit(3)\n```\n<!-- snippet: open -->\ntext\n"
    )
    with pytest.raises(ValueError, match="not followed by a fenced code block"):
        snippet_blocks(doc)
    doc.write_text("<!-- snippet: bad -->\n```python\nraise SystemExit(3)\n```\n")
    with pytest.raises(AssertionError, match="exited 3"):
        run_snippet(doc, "bad", cwd=tmp_path)
    with pytest.raises(KeyError):
        snippet(doc, "missing")
