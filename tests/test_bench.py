"""The benchmark's own parts that need no cluster: reading ginkgo's summary and the table's
new sections."""

from __future__ import annotations

from npconform.bench.table import _curve, _peer, _suite_image
from npconform.bench.upstream import _ginkgo_summary

GINKGO = """
Ran 46 of 52 Specs in 283.812 seconds
SUCCESS! -- 46 Passed | 0 Failed | 0 Pending | 6 Skipped
"""


def test_ginkgo_summary() -> None:
    assert _ginkgo_summary(GINKGO) == ("Ran 46 of 52 Specs in 283.812 seconds", 46, 0)
    failed = GINKGO.replace("SUCCESS! -- 46 Passed | 0 Failed", "FAIL! -- 44 Passed | 2 Failed")
    assert _ginkgo_summary(failed)[1:] == (44, 2)
    assert _ginkgo_summary("panic: no cluster") == ("", 0, 0)
    colored = (
        "\x1b[1mRan 46 of 52 Specs in 2.0 seconds\x1b[0m\n\x1b[38;5;10mSUCCESS!\x1b[0m -- "
        "\x1b[38;5;10m\x1b[1m46 Passed\x1b[0m | \x1b[1m0 Failed\x1b[0m"
    )
    assert _ginkgo_summary(colored) == ("Ran 46 of 52 Specs in 2.0 seconds", 46, 0)


def test_table_sections() -> None:
    peer = {
        "kubernetes": "v1.37.2",
        "build_seconds": 400.0,
        "upstream": {
            "seconds": 283.8,
            "procs": 2,
            "summary": "Ran 46 of 52 Specs",
            "passed": 46,
            "failed": 0,
            "constraint": "c set to dryrun, then restored to deny",
        },
        "semantics": {"seconds": 137.6, "workers": 2, "summary": "43 passed, 2 skipped"},
        "ratio": 2.06,
    }
    text = "\n".join(_peer(peer))
    assert "| upstream netpol e2e | Ran 46 of 52 Specs (46 passed, 0 failed) | 283.8 |" in text
    assert "**2.06x**" in text and "restored to deny" in text
    curve = [
        {
            "pods": p,
            "probes": p * p * 4,
            "seconds_median": 1.0,
            "seconds_min": 0.9,
            "seconds_max": 1.1,
            "probes_per_second": 1.0,
        }
        for p in (9, 18, 36)
    ]
    assert "| 36 | 5184 |" in "\n".join(_curve(curve))
    img = {"ref": "npconform:0.1.0", "cold_seconds": 83.4, "cached_seconds": 1.1}
    img |= {"size_mib": 375.4, "steps": ["py:suite"]}
    assert "| cold | 83.4 |" in "\n".join(_suite_image(img))
    assert _peer(None) == _curve(None) == _suite_image(None) == []


def test_targets_are_judged_from_the_figures_and_missing_ones_say_so() -> None:
    from npconform.bench.table import _targets

    r = {
        "suite": [
            {"workers": 1, "seconds": 400.0, "summary": "110 passed in 399s"},
            {"workers": 2, "seconds": 170.0, "summary": "110 passed in 169s"},
            {"workers": 4, "seconds": 150.0, "summary": "1 failed, 109 passed in 149s"},
        ],
        "peer": {"ratio": 3.4},
        "matrix": {"engine": {"seconds_median": 1.1}},
    }
    rows = [ln for ln in _targets(r) if ln.startswith("| ") and "target" not in ln]
    # a failed run's time does not count
    assert rows[0] == "| whole suite, best of -n 1/2/4 (seconds) | at most 180 | 170.0 | met |"
    assert rows[1].endswith("| at least 4 | 3.4 | **not met** |")
    assert rows[2].endswith("| at most 2 | 1.1 | met |")
    assert rows[3].endswith("| at most 4 | - | not measured |")
