#!/usr/bin/env python
"""Django's command-line utility for the Driftlock example project.

python examples/django_project/manage.py runserver 8000
"""

import os
import sys


def main() -> None:
    """Run a management command."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
