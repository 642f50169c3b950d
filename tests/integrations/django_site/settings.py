"""Settings of the test project; each test sets its own ``DRIFTLOCK`` with override_settings."""

SECRET_KEY = "driftlock-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "tests.integrations.django_site",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "driftlock.django.DriftlockMiddleware",
]
ROOT_URLCONF = "tests.integrations.django_site.urls"
# One in-memory database shared by every thread (uvicorn's, sync_to_async's) of the process.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "file:driftlock-django-tests?mode=memory&cache=shared",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = True
LOGGING_CONFIG = None  # Django's default logging prints every 500 it serves on stderr
DRIFTLOCK = {"ENABLED": False}  # tests set their own
