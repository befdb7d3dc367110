"""``python -m services.foreigners_authority [commands|relay]``: run one of its processes."""

from __future__ import annotations

import sys

from services.cli import main

if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else "commands"
    sys.exit(main(["run", "service" if role == "commands" else "relay", "foreigners_authority"]))
