from django.urls import path

from generation import views

app_name = "generation"

urlpatterns = [
    path("generate/", views.generate, name="generate"),
    path("generate/plan/", views.plan_summary, name="plan"),
    path("jobs/<uuid:job_id>/cancel/", views.cancel_job_view, name="cancel-job"),
    path("webhooks/fal/", views.fal_webhook, name="fal-webhook"),
]
