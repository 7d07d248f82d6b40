"""The JSON Schema of the finalized results document (v2), and validation against it.

``python -m npconform.report.schema FILE...`` prints ``FILE: valid`` or each error (its
JSON path and message, one line each); it exits 1 when a file is invalid and 2 when a file
cannot be read or is not JSON.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from npconform import schemas

SCHEMA_FILE = "results-v2.schema.json"
#: The longest message one error line carries (a message quotes the offending value).
MAX_MESSAGE = 300

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def load_schema() -> dict[str, Any]:
    """The schema, read from the package ``npconform.schemas`` (a fresh copy each call)."""
    return schemas.load(SCHEMA_FILE)


def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time. jsonschema checks ``date-time`` only when the optional
    rfc3339-validator is installed; this check does not depend on it."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@functools.cache
def _validator() -> Draft202012Validator:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    formats = FormatChecker()
    formats.checks("date-time")(_is_date_time)
    return Draft202012Validator(schema, format_checker=formats)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def validate(doc: object) -> list[str]:
    """Every way ``doc`` departs from the schema, one line each (``$.path: message``), in
    document order; empty when it is valid."""
    errors = sorted(_validator().iter_errors(doc), key=schemas.document_order)
    return [f"{e.json_path}: {_one_line(e.message)}" for e in errors]


def main(argv: list[str] | None = None) -> int:
    files = sys.argv[1:] if argv is None else argv
    if not files:
        print("usage: python -m npconform.report.schema FILE...", file=sys.stderr)
        return 2
    status = 0
    for name in files:
        try:
            with open(name, encoding="utf-8") as f:
                doc = json.load(f)
        except OSError as e:
            print(f"{name}: cannot read: {e.strerror or e}", file=sys.stderr)
            status = 2
            continue
        except (ValueError, UnicodeDecodeError) as e:
            print(f"{name}: not JSON: {_one_line(str(e))}", file=sys.stderr)
            status = 2
            continue
        errors = validate(doc)
        for line in errors:
            print(f"{name}: {line}")
        if not errors:
            print(f"{name}: valid")
        elif status == 0:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
