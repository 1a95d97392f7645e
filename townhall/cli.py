"""``townhall``: Django's management commands under Townhall's settings.

``townhall serve``, ``townhall createsite``, ``townhall demo``, ``townhall migrate`` and every
other Django command (``townhall help`` lists them).
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["townhall", *sys.argv[1:]])


if __name__ == "__main__":
    main()
