"""What every benchmark script shares: machine facts and writing its own section of docs/benchmarks.md."""

from __future__ import annotations

import platform
import re
from pathlib import Path


def os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", "Linux")
    except OSError:
        return "Linux"


def load_text(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in load)


def write_section(out: Path, name: str, section: str) -> None:
    """Replace the ``<!-- bench:name -->`` section of ``out`` (create the file, or append, if needed).

    The file is read just before writing: other benchmarks write their sections into it too.
    """
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("# Benchmarks\n\nEach benchmark writes its own marked section; `make bench` "
                       "regenerates them.\n\n" + section, encoding="utf-8")
        return
    current = out.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _match: section, current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + section
    out.write_text(updated, encoding="utf-8")
