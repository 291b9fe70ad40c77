import base64

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _, ngettext
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from credits.selectors import credit_summary
from credits.services import CreditRefused
from generation.catalog import DEFAULT_MODEL_KEY, MODELS, PROMPT_MAX_CHARS
from generation.forms import GenerationForm, PlanForm
from generation.models import Job
from generation.request_keys import RequestKeyReused, new_request_key
from generation.rules import NON_FIELD, RequestRefused
from generation.services import cancel_job, start_generation
from generation import webhooks
from history.selectors import last_frame_image
from pixelart.selectors import input_frame
from projects.selectors import own_project, project_names
from videoplanet.client_address import client_address

PREFILL_SINGLE = ("model", "prompt", "duration", "resolution", "audio", "negative_prompt", "seed", "mode", "count")
# Sent along when the model changes, so the new model's fields keep what was typed.
MODEL_FIELDS = ("duration", "resolution", "audio", "negative_prompt", "seed")
PREFILL_MULTIPLE = ("styles", "aspect_ratios")


@login_required
def generate(request: HttpRequest) -> HttpResponse:
    # "Use as input image" on a pixel-art frame or a video's last frame opens this page
    # with ?frame=...; the form carries the reference and the image is attached on submit
    # unless the user picks a file of their own (or a model that takes no image).
    reference = (request.POST if request.method == "POST" else request.GET).get("frame", "")
    attached = input_frame(request.user, reference) if reference else None
    if reference and attached is None:
        messages.error(request, _("That frame is not available any more; choose an image of your own."))
    # "Regenerate" keeps a last-frame image too, as ?end_frame=end:<card id>.
    end_reference = (request.POST if request.method == "POST" else request.GET).get("end_frame", "")
    end_attached = last_frame_image(request.user, end_reference) if end_reference else None
    if end_reference and end_attached is None:
        messages.error(request, _("That last frame is not available any more; choose an image of your own."))
    if request.method == "POST":
        files = request.FILES
        chosen = next((m for m in MODELS if m.key == request.POST.get("model")), None)
        if attached is not None and not files.get("image") and chosen is not None and chosen.takes_image:
            files = files.copy()
            files["image"] = SimpleUploadedFile("frame.png", attached.png, content_type="image/png")
        if end_attached is not None and not files.get("end_image") and chosen is not None and chosen.takes_end_image:
            files = files.copy()
            files["end_image"] = SimpleUploadedFile(end_attached.name, end_attached.content, content_type=end_attached.content_type)
        form = GenerationForm(request.POST, files)
        chosen_project = request.POST.get("project", "")
        project = own_project(request.user, chosen_project) if chosen_project else None
        if chosen_project and project is None:
            form.add_error(None, _("Choose one of your projects, or none."))
        if form.is_valid():
            try:
                job = start_generation(user=request.user, project=project, **form.generation_kwargs())
            except CreditRefused as refused:
                form.add_error(None, refused.message)
            except RequestRefused as refused:  # the form checks first; this is the backstop
                for field, errors in refused.errors.items():
                    form.add_error(None if field == NON_FIELD else field, errors)
            except RequestKeyReused:
                # This page already started a job with other settings (sent again
                # after going back and changing them): the new key below makes the
                # next press a new request.
                form.add_error(None, _("This page already started a job. Press Generate again to start another."))
            else:
                if job.replayed:
                    messages.info(request, _("That was already sent: one job was made, here it is."))
                    return redirect("history:gallery")
                count = job.params["count"]
                messages.success(request, ngettext(
                    "Your video is on its way. You can leave this page; it will wait for you here.",
                    "Your %(count)d videos are on their way. You can leave this page; they will wait for you here.",
                    count,
                ) % {"count": count})
                if project is not None:
                    return redirect(project)
                # Unfinished jobs head the gallery, so the new one is the first thing there.
                return redirect("history:gallery")
        plan_data = request.POST
    else:
        initial = _prefill(request.GET)
        plan_data = _plan_data(request.GET)
        if attached is not None and not request.GET.get("model"):
            image_model = next((m.key for m in MODELS if m.requires_image), None)
            if image_model:
                initial["model"] = image_model
                plan_data["model"] = image_model
        form = GenerationForm(initial=initial)
    context = {
        "form": form, "models": MODELS, "request_key": new_request_key(), **_plan_context(request, PlanForm(plan_data)),
        "projects": project_names(request.user),
        "chosen_project": (request.POST if request.method == "POST" else request.GET).get("project", ""),
    }
    if end_attached is not None:
        context["attached_end_frame"] = end_attached
        context["attached_end_frame_data"] = base64.b64encode(end_attached.content).decode()
    if attached is not None:
        context["attached_frame"] = attached
        context["attached_frame_data"] = base64.b64encode(attached.png).decode()
    return render(request, "generation/generate.html", context)


@login_required
@require_GET
def plan_summary(request: HttpRequest) -> HttpResponse:
    """The Generate page's live "N videos · N credits" line, from the same planning
    rules as the job itself. With ?part=options (the model changed) it answers the
    chosen model's own fields (durations, resolutions, sound, seed, avoid, images)
    and, out of band, its aspect-ratio choices and the line."""
    data = _plan_data(request.GET)
    if request.GET.get("part") in ("options", "ratios"):
        form = GenerationForm(initial=_carried_over(data))
        kept = [r for r in data.getlist("aspect_ratios") if r in form.spec.aspect_ratios]
        data.setlist("aspect_ratios", kept)
        form.initial["aspect_ratios"] = kept
        context = {"form": form, "oob": True, **_plan_context(request, PlanForm(data))}
        return render(request, "generation/_model_fields.html", context)
    return render(request, "generation/_plan_summary.html", _plan_context(request, PlanForm(data)))


def _carried_over(data: QueryDict) -> dict:
    """What the user had set, kept where the newly chosen model takes it; a value the
    model does not take (a typed seed, say) is kept too, and shown with the reason it
    would be refused, never dropped without a word."""
    initial = {name: data[name] for name in ("model", *MODEL_FIELDS) if data.get(name)}
    initial.update({name: data.getlist(name) for name in PREFILL_MULTIPLE if data.getlist(name)})
    form = GenerationForm(initial={"model": initial.get("model")})
    spec = form.spec
    if str(initial.get("duration")) not in {str(d) for d in spec.durations}:
        initial.pop("duration", None)
    if initial.get("resolution") not in spec.resolutions:
        initial.pop("resolution", None)
    if not spec.audio:
        initial.pop("audio", None)
    return initial


def _plan_data(query: QueryDict) -> QueryDict:
    data = query.copy()
    if not data.get("model"):
        data["model"] = DEFAULT_MODEL_KEY
    return data


def _plan_context(request: HttpRequest, form: PlanForm) -> dict:
    plan_error = ""
    if not form.is_valid():
        errors = form.non_field_errors() or [e for field in form.errors.values() for e in field]
        plan_error = errors[0] if errors else ""
    return {
        "plan": form.plan, "plan_error": plan_error, "credits": credit_summary(request.user),
        "prompt_max_chars": PROMPT_MAX_CHARS,
    }


def _prefill(query: QueryDict) -> dict:
    """Initial values from the query (used by "Regenerate" links)."""
    initial = {name: query[name] for name in PREFILL_SINGLE if query.get(name)}
    initial.update({name: query.getlist(name) for name in PREFILL_MULTIPLE if query.getlist(name)})
    return initial


@login_required
@require_POST
def cancel_job_view(request: HttpRequest, job_id) -> HttpResponse:
    # Another user's job is a 404: its existence is not theirs to know.
    job = get_object_or_404(Job, pk=job_id, user=request.user)
    result = cancel_job(job=job)
    if result.cancelled:
        messages.success(request, result.message)
    else:
        messages.info(request, result.message)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = f"{reverse('history:gallery')}#job-{job.pk}"
    return redirect(back)


@csrf_exempt
@require_POST
def fal_webhook(request: HttpRequest) -> JsonResponse:
    # Read the body before anything can fail, so the delivery is always recorded; one
    # byte past the cap is enough to know it is too large.
    body = webhooks.read_body(request, limit=settings.FAL_WEBHOOK_MAX_BYTES + 1)
    if webhooks.refusals_exceeded(request) and not webhooks.verifies(headers=request.headers, body=body):
        return JsonResponse({"outcome": "throttled", "detail": "too many refused deliveries from this address"}, status=429)
    _, answer = webhooks.receive_delivery(
        headers=request.headers, body=body, query=request.GET.dict(), remote_addr=client_address(request)
    )
    if 400 <= answer.status < 500:
        webhooks.count_refusal(request)
    return JsonResponse({"outcome": answer.outcome, "detail": answer.message}, status=answer.status)
