"""A small Django project for the integration tests, configured in-process by :func:`setup`."""

from __future__ import annotations

import threading

_lock = threading.Lock()


def setup() -> None:
    """Configure Django with :mod:`.settings` and create the database, once per process."""
    with _lock:
        from django.conf import settings

        if settings.configured:
            return
        import django
        from django.core.management import call_command

        from tests.integrations.django_site import settings as site_settings

        settings.configure(
            **{name: getattr(site_settings, name) for name in dir(site_settings) if name.isupper()}
        )
        django.setup()
        call_command("migrate", run_syncdb=True, verbosity=0)
