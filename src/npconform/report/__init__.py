"""The run's evidence: results.json, a self-contained report.html, SHA256SUMS and a
terminal summary."""
