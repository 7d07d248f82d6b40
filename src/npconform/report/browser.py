"""Look at a run's report the way a person does: render it in headless Chromium (Debian's
chromium, offline), keep a screenshot next to it, and check the rendered page.

    python -m npconform.report.browser reports/report.html
"""

from __future__ import annotations

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
CONTROLS = ("A.13.1.1", "A.13.1.2", "A.13.1.3")
VERDICTS = ("PASS", "FAIL", "INCOMPLETE")


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
    first = min((dom.find(v) for v in VERDICTS if v in dom), default=-1)
    if first < 0:
        problems.append("no verdict on the rendered page")
    for c in CONTROLS:
        at = dom.find(c)
        if at < 0:
            problems.append(f"control {c} is not on the rendered page")
        elif first >= 0 and at < first:
            problems.append(f"control {c} comes before the verdict")
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
        print(f"report check: {html} renders with its verdict first; screenshot {png}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
