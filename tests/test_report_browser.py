"""The sample report as a person sees it: rendered by headless Chromium, offline.

Needs Debian's chromium at /usr/bin/chromium (``apt-get install -y chromium``; CI installs
it). Without it the tests fail: a report nobody looked at is not evidence.

Set NPCONFORM_SAVE_SCREENSHOT=1 to keep the failing sample's screenshot as
reports/sample-report.png.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from npconform.report import browser
from npconform.report.bundle import write_bundle
from npconform.verdict.controls import CONTROLS
from npconform.verdict.rules import compare_step, finalize
from report_samples import SCRIPT, failing_results, incomplete_results, passing_results

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = (
    f"{CHROMIUM} not found: install it with `apt-get install -y chromium` (as root; CI does)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]
WIDTH, HEIGHT = 1280, 2000
REPO = Path(__file__).resolve().parents[1]


def chromium(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.fail(INSTALL_HINT, pytrace=False)
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish in 180s: {' '.join(cmd)}", pytrace=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-15:])
        pytest.fail(f"chromium exited {proc.returncode}: {' '.join(cmd)}\n{tail}", pytrace=False)
    return proc


@dataclass
class Rendered:
    html: Path
    png: Path
    dom: str


def render(workdir: Path, results: dict[str, object], dump_dom: bool) -> Rendered:
    paths = write_bundle(results, workdir / "report")
    url = paths["report.html"].resolve().as_uri()
    png = workdir / "screenshot.png"
    chromium(workdir, f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", url)
    dom = chromium(workdir, "--dump-dom", url).stdout if dump_dom else ""
    return Rendered(paths["report.html"], png, dom)


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    r = render(tmp_path_factory.mktemp("failing"), failing_results(), dump_dom=True)
    if os.environ.get("NPCONFORM_SAVE_SCREENSHOT") == "1":
        out = REPO / "reports" / "sample-report.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(r.png, out)
    return r


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("passing"), passing_results(), dump_dom=False)


@pytest.fixture(scope="module")
def incomplete(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("incomplete"), incomplete_results(), dump_dom=False)


# --------------------------------------------------------------------------- PNG, no PIL


@dataclass
class Png:
    width: int
    height: int
    bpp: int  # bytes per pixel
    data: bytes  # the filtered scanlines, decompressed

    def row_filtered(self, y: int) -> bytes:
        stride = 1 + self.width * self.bpp
        return self.data[y * stride : (y + 1) * stride]

    def rows(self, count: int) -> list[bytes]:
        """The first ``count`` rows, unfiltered (RFC 2083 section 6)."""
        bpp, out, prev = self.bpp, [], bytes(self.width * self.bpp)
        for y in range(count):
            raw = self.row_filtered(y)
            kind, line = raw[0], bytearray(raw[1:])
            if kind == 1:
                for i in range(bpp, len(line)):
                    line[i] = (line[i] + line[i - bpp]) & 0xFF
            elif kind == 2:
                line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
            elif kind == 3:
                for i in range(len(line)):
                    left = line[i - bpp] if i >= bpp else 0
                    line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
            elif kind == 4:
                for i in range(len(line)):
                    a = line[i - bpp] if i >= bpp else 0
                    b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                    line[i] = (line[i] + pred) & 0xFF
            out.append(bytes(line))
            prev = bytes(line)
        return out

    def pixels(self, row: bytes) -> list[tuple[int, int, int]]:
        return [tuple(row[i : i + 3]) for i in range(0, len(row), self.bpp)]  # type: ignore[misc]


def read_png(path: Path) -> Png:
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, [], b""
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        kind, body = blob[pos + 4 : pos + 8], blob[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    assert depth == 8, depth
    assert interlace == 0, interlace
    bpp = {2: 3, 6: 4}[colour]
    return Png(width, height, bpp, zlib.decompress(b"".join(idat)))


# --------------------------------------------------------------------------- DOM


class DomText(HTMLParser):
    """Visible text in document order, and the text of cells by class."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.cells: list[tuple[str, str]] = []  # (class, text) of grid cells
        self._skip = 0
        self._cell: tuple[str, list[str]] | None = None
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag in ("style", "title", "script"):
            self._skip += 1
        cls = dict(attrs).get("class") or ""
        if tag == "td" and cls.startswith("c "):
            self._cell = (cls, [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title", "script"):
            self._skip -= 1
        if tag == "td" and self._cell is not None:
            self.cells.append((self._cell[0], "".join(self._cell[1])))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell[1].append(data)


def dom_text(dom: str) -> DomText:
    p = DomText()
    p.feed(dom)
    p.close()
    return p


# --------------------------------------------------------------------------- tests


def test_screenshot_shows_a_rendered_page(failing: Rendered) -> None:
    size = failing.png.stat().st_size
    assert size > 50_000, f"screenshot suspiciously small: {size} bytes"
    png = read_png(failing.png)
    assert (png.width, png.height) == (WIDTH, HEIGHT)
    assert len(png.data) == png.height * (1 + png.width * png.bpp)
    distinct_rows = {png.row_filtered(y) for y in range(png.height)}
    assert len(distinct_rows) > 200, "the page looks blank or a single colour"


COLOURS = {
    "red": lambda r, g, b: r > 150 and g < 70 and b < 70,  # FAIL #b42318
    "green": lambda r, g, b: g > 100 and r < 60 and b < 90,  # PASS #1a7f37
    "amber": lambda r, g, b: 110 < r < 170 and 60 < g < 110 and b < 30,  # INCOMPLETE #8a5300
}


def _shares(path: Path, rows: int) -> dict[str, float]:
    """Shares of pixels in the top ``rows`` rows in each verdict colour."""
    png = read_png(path)
    hits = dict.fromkeys(COLOURS, 0)
    total = 0
    for row in png.rows(rows):
        for r, g, b in png.pixels(row)[::4]:
            total += 1
            for name, match in COLOURS.items():
                hits[name] += match(r, g, b)
    return {k: v / total for k, v in hits.items()}


@pytest.mark.parametrize(
    ("sample", "colour"), [("failing", "red"), ("passing", "green"), ("incomplete", "amber")]
)
def test_the_verdict_is_big_and_coloured(
    sample: str, colour: str, request: pytest.FixtureRequest
) -> None:
    # the banner sits at the top: a large share of the first rows is the verdict colour
    shares = _shares(request.getfixturevalue(sample).png, 180)
    assert shares[colour] > 0.4, shares
    assert all(v < 0.01 for k, v in shares.items() if k != colour), shares


def test_dom_puts_the_verdict_and_identity_before_the_controls(failing: Rendered) -> None:
    dom = failing.dom
    assert dom, "chromium --dump-dom printed nothing"
    r = finalize(failing_results())
    text = "".join(dom_text(dom).text)
    assert text.strip().split()[:2] == ["✗", "FAIL"], text.strip().split()[:8]
    controls = text.index("ISO/IEC 27001:2022 controls")
    assert dom.index('id="verdict"') < dom.index('<table class="controls"')
    for ctl in CONTROLS:
        assert ctl.id in text[controls:]
        assert f"ISO/IEC 27001:2013: {ctl.iso2013[0]}" in text[controls:]
    who = r["identity"]
    facts = [who["server"], who["kube_system_uid"], who["user"]["username"], "f00d42"]
    facts += ["2026-11-27 13:00:00 UTC", "with local changes", "1 (some tests failed)"]
    for fact in facts:
        assert fact in text[:controls], fact


def test_dom_has_the_legend_and_every_cell_kind(failing: Rendered) -> None:
    parsed = dom_text(failing.dom)
    text = "".join(parsed.text)
    assert 'class="legend"' in failing.dom
    for meaning in ("allowed, as the policies allow", "blocked, as the policies require",
                    "LEAK: got through", "LOSS: did not get through", "REFUSED: refused where",
                    "unobserved: no result", "twin: an allowed probe"):  # fmt: skip
        assert meaning in text
    by_kind: dict[str, list[str]] = {}
    for cls, cell_text in parsed.cells:
        by_kind.setdefault(cls.split()[1], []).append(cell_text)
    assert [t.split("expected")[0] for t in by_kind["c-leak"]] == ["LEAKconnected"]
    assert [t.split("expected")[0] for t in by_kind["c-loss"]] == ["LOSStimeout"]
    assert [t.split("expected")[0] for t in by_kind["c-refused"]] == ["REFUSEDrefused"]
    assert [t.split("expected")[0] for t in by_kind["c-unobs"]] == ["?error"]
    assert all(t.startswith("✓") for t in by_kind["c-allow"])
    assert all(t.startswith("⊘timeout") for t in by_kind["c-block"])
    cells = sum(len(s["expected"]) for s in finalize(failing_results())["scenarios"])
    assert sum(len(v) for k, v in by_kind.items() if k != "c-none") == cells


def test_dom_marks_twin_cells(failing: Rendered) -> None:
    parsed = dom_text(failing.dom)
    twins = [t for cls, t in parsed.cells if "twin" in cls.split()]
    steps = finalize(failing_results())["scenarios"]
    assert len(twins) == sum(1 for s in steps for c in s["expected"] if c.get("twin"))
    assert all("twin" in t.split("expected")[0] for t in twins)
    assert sum(len(compare_step(s)["allowed"]) for s in steps) >= len(twins)


def test_dom_runs_nothing_and_shows_markup_as_text(failing: Rendered) -> None:
    parsed = dom_text(failing.dom)
    assert "script" not in parsed.tags
    assert SCRIPT in "".join(parsed.text)


def test_the_report_check_tool_finds_nothing_wrong(passing: Rendered, tmp_path: Path) -> None:
    assert browser.check(passing.html, tmp_path / "check.png") == []
