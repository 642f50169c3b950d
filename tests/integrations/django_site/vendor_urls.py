"""URLs for the vendor's examples (imported once the test set up settings and environment)."""

from __future__ import annotations

from django.urls import path

from tests.integrations.django_site import vendor_task_views, vendor_views, views

urlpatterns = [
    path("", views.index),
    path("health/", views.health),
    path("admin/", views.health),
    path("admin/login/", views.health),
    path("async/", vendor_views.my_async_view),
    path("payments/", vendor_views.process_payment),
    path("context/", vendor_views.my_view),
    path("jobs/", vendor_task_views.my_view),
]
