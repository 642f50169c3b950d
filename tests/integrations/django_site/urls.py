"""URLs of the test project."""

from __future__ import annotations

from django.urls import include, path, re_path

from tests.integrations.django_site import views

api = [path("users/<str:user_id>/orders/<int:order_id>/", views.order)]

urlpatterns = [
    path("", views.index),
    path("items/<int:item_id>/", views.item),
    path("async/items/<int:item_id>/", views.async_item),
    path("whoami/", views.whoami),
    path("boom/", views.boom),
    path("echo/", views.echo),
    path("unread/", views.unread),
    path("stream/", views.stream),
    path("async-stream/", views.async_stream),
    path("download/", views.download),
    path("health/", views.health),
    path("admin/stats/", views.health),
    re_path(r"^legacy/(?P<year>[0-9]{4})/$", views.legacy),
    path("api/", include(api)),
]
