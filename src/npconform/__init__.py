"""npconform: a conformance suite for Kubernetes NetworkPolicy safeguards."""

__version__ = "0.1.0"
NAME = "npconform"


def run_prefix(run_id: str) -> str:
    """The prefix of every namespace a run creates."""
    return f"{NAME}-{run_id}"
