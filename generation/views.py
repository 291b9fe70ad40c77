from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from generation.catalog import MODELS
from generation.forms import GenerationForm
from generation.services import start_generation
from generation.webhooks import process_delivery, record_delivery


@login_required
def generate(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = GenerationForm(request.POST, request.FILES)
        if form.is_valid():
            start_generation(user=request.user, **form.generation_kwargs())
            messages.success(request, "Your video is on its way. You can leave this page; it will wait for you here.")
            return redirect("history:gallery")
    else:
        form = GenerationForm(initial=_regenerate_initial(request))
    return render(request, "generation/generate.html", {"form": form, "models": MODELS})


def _regenerate_initial(request: HttpRequest) -> dict:
    """Prefill from ?model=...&prompt=... (used by "Regenerate" links)."""
    fields = ("model", "prompt", "duration", "aspect_ratio", "negative_prompt", "seed")
    return {name: request.GET[name] for name in fields if request.GET.get(name)}


@csrf_exempt
@require_POST
def fal_webhook(request: HttpRequest) -> JsonResponse:
    # Read the body before anything can fail, so the raw delivery is always recorded;
    # one byte past the cap is enough to know it is too large.
    body = request.read(settings.FAL_WEBHOOK_MAX_BYTES + 1)
    delivery = record_delivery(
        headers=request.headers, body=body, query=request.GET.dict(), remote_addr=request.META.get("REMOTE_ADDR")
    )
    answer = process_delivery(delivery, body=body, headers=request.headers, query=request.GET.dict())
    return JsonResponse({"outcome": answer.outcome, "detail": answer.detail}, status=answer.status)
