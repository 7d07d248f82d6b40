"""Gatekeeper and the require-networkpolicy constraint: names, admission requests."""
