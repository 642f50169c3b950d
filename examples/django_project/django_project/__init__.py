"""A Django project monitored by Driftlock (see ``settings.py``)."""
