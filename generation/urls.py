from django.urls import path

from generation import views

app_name = "generation"

urlpatterns = [
    path("generate/", views.generate, name="generate"),
    path("webhooks/fal/", views.fal_webhook, name="fal-webhook"),
]
