"""README's "Python API" example, run exactly as the README writes it.

The code is extracted from README.md itself (the ```python block of that section), so the
document cannot drift from the API; the ```text block after it is the documented output,
with ``…`` standing for ids that differ between runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from offchain.config import REPO_ROOT

README = REPO_ROOT / "README.md"


def readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def fenced_blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", section, flags=re.S | re.M)


def expected_lines(block: str) -> list[re.Pattern[str]]:
    return [re.compile(".+".join(re.escape(part) for part in line.split("…")) + "$")
            for line in block.splitlines() if line.strip()]


def run_example(code: str, home: Path, rpc_url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env |= {"ATTESTIA_HOME": str(home), "ATTESTIA_RPC_URL": rpc_url}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_readme_python_api_example_runs_as_documented(project_home: Path, anvil, chain
                                                      ) -> None:
    section = readme_section("Python API")
    [code] = fenced_blocks(section, "python")
    [output] = fenced_blocks(section, "text")
    patterns = expected_lines(output)

    first = run_example(code, project_home, anvil.url)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == len(patterns), first.stdout
    for line, pattern in zip(lines, patterns, strict=True):
        assert pattern.match(line), (line, pattern.pattern)
    assert (project_home / ".attestia" / "models" / "demo" / "manifest.json").is_file()
    assert (project_home / ".attestia" / "model-ids.json").is_file()

    # Run again: the deployment is reused, the package loaded, the registration a no-op.
    again = run_example(code, project_home, anvil.url)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
