"""The verdict: checks by stable id, the ISO/IEC 27001:2022 controls that require them, and
the pure rules that turn a results document into check statuses, control verdicts and a
run verdict."""
