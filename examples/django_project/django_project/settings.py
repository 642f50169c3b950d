"""Settings of the Driftlock example project.

Run it on the embedded engine (no key, no network)::

    python examples/django_project/manage.py runserver 8000

under an ASGI server::

    uvicorn --app-dir examples/django_project django_project.asgi:application

or against any Driftlock server::

    DRIFTLOCK_BASE_URL=http://127.0.0.1:8080 DRIFTLOCK_API_KEY=dlk_... \\
        python examples/django_project/manage.py runserver

Settings (environment): ``DRIFTLOCK_BASE_URL`` (default ``local://``), ``DRIFTLOCK_API_KEY``,
``DRIFTLOCK_STREAM_ID`` (default ``django-app``), ``DRIFTLOCK_FLUSH_INTERVAL``, and
``DRIFTLOCK_ASYNC_MODE=0`` to send each event before its response is returned. The project has
no database: sessions live in signed cookies, and anonymous requests never need one.
"""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "driftlock-example-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "shop",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After AuthenticationMiddleware: events carry the user's id when a view looked it up.
    "driftlock.django.DriftlockMiddleware",
]

DRIFTLOCK = {
    "API_KEY": os.environ.get("DRIFTLOCK_API_KEY"),
    "BASE_URL": os.environ.get("DRIFTLOCK_BASE_URL", "local://"),
    "STREAM_ID": os.environ.get("DRIFTLOCK_STREAM_ID", "django-app"),
    "EXCLUDE_PATHS": ["/admin/", "/health/", "/driftlock/"],
    "ASYNC_MODE": os.environ.get("DRIFTLOCK_ASYNC_MODE", "1") != "0",
    "FLUSH_INTERVAL": float(os.environ.get("DRIFTLOCK_FLUSH_INTERVAL", "1.0")),
}

ROOT_URLCONF = "django_project.urls"
WSGI_APPLICATION = "django_project.wsgi.application"
ASGI_APPLICATION = "django_project.asgi.application"
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
