"""Look at a run's report the way a person does: render it in headless Chromium (Debian's
chromium, offline), keep a screenshot next to it, and check the rendered page.

    python -m npconform.report.browser reports/report.html
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1",
]  # fmt: skip
#: ISO/IEC 27001:2022 controls and the 2013 numbers the page cross-references.
CONTROLS = ("A.8.20", "A.8.21", "A.8.22")
ISO2013 = ("A.13.1.1", "A.13.1.2", "A.13.1.3")
VERDICTS = ("PASS", "FAIL", "INCOMPLETE")
#: The run's identity an auditor asks for: each label must be on the page.
IDENTITY = ("Cluster (API server)", "kube-system namespace UID", "Run by", "Started (UTC)")


def _chromium(*args: str) -> str:
    profile = tempfile.mkdtemp(prefix="npconform-chromium-")
    try:
        proc = subprocess.run(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return proc.stdout


def check(html: Path, png: Path) -> list[str]:
    """Problems seen in the rendered report (empty: it looks right)."""
    if not CHROMIUM.exists():
        return [f"{CHROMIUM} not found: install it with `apt-get install -y chromium`"]
    if not html.exists():
        return [f"{html} does not exist"]
    url = html.resolve().as_uri()
    _chromium(f"--screenshot={png}", "--window-size=1280,1800", url)
    dom = _chromium("--dump-dom", url)
    problems = []
    if not png.exists() or png.stat().st_size < 10_000:
        problems.append("the screenshot is missing or blank")
    banner = dom.find('id="verdict"')
    first = min((i for v in VERDICTS if (i := dom.find(v, max(banner, 0))) >= 0), default=-1)
    if banner < 0 or first < 0:
        problems.append("no verdict banner on the rendered page")
    table = dom.find('<table class="controls"')
    if table < 0:
        problems.append("no controls table on the rendered page")
    elif first >= 0 and table < first:
        problems.append("the controls come before the verdict")
    for c in (*CONTROLS, *ISO2013):
        if dom.find(c, max(table, 0)) < 0:
            problems.append(f"control {c} is not in the controls table")
    for fact in IDENTITY:
        if fact not in dom:
            problems.append(f"the run's identity lacks {fact!r}")
    cells = re.findall(r'<td class="c [^"]*"[^>]*>(.*?)</td>', dom, flags=re.S)
    cells = [c for c in cells if "not probed" not in c]
    unclassed = [c for c in cells if not re.search(r"<i>(connected|timeout|refused|error)</i>", c)]
    if unclassed:
        problems.append(f"{len(unclassed)} of {len(cells)} grid cells show no outcome class")
    if "<script" in dom.lower():
        problems.append("the rendered page contains a script")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    html = Path(args[0] if args else "reports/report.html")
    png = html.with_suffix(".png")
    problems = check(html, png)
    for p in problems:
        print(f"report check: {p}", file=sys.stderr)
    if not problems:
        print(
            f"report check: {html} renders with its verdict first, the 2022 controls, the "
            f"run's identity and every cell's outcome class; screenshot {png}"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
