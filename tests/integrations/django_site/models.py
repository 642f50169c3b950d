"""A user profile, as the vendor's ``request.user.profile.tier`` example assumes one."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Profile(models.Model):
    """A user's subscription tier."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    tier = models.CharField(max_length=20)
