"""URLs of the example project."""

from __future__ import annotations

from django.urls import path
from shop import views

urlpatterns = [
    path("", views.index),
    path("health/", views.health),
    path("items/<int:item_id>/", views.read_item),
    path("async/", views.my_async_view),
    path("payments/", views.process_payment),
    path("jobs/", views.my_view),
    path("driftlock/stats/", views.driftlock_stats),
]
