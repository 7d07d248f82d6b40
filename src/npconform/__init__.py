"""npconform: a conformance suite for Kubernetes NetworkPolicy safeguards."""

__version__ = "0.1.0"
NAME = "npconform"
