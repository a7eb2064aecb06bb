"""The `digest` command line: its commands, --json, and exit codes (the operator contract in the README).

common.py holds what every command shares (App, emit, errors and exit codes, --as-of, --json, the
`digest` group); each command group has its own module, and importing it registers it on `main`.
"""

from __future__ import annotations

from . import companies, database, demo, feeds, ingest, issue, mailbox, ops, preview, send, serve  # noqa: F401 (each registers its commands)
from .common import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, App, emit, fail, handle_errors, json_option, main, parse_time
from .subscribers import subscribers_group

main.add_command(subscribers_group, "subscribers")

__all__ = ["EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "App", "emit", "fail", "handle_errors", "json_option", "main",
           "parse_time"]
