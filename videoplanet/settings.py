"""VideoPlanet settings. Every deployment-specific value comes from the environment
(see README, "Configuration"); the defaults run the whole product locally on SQLite
against the local fal sandbox, with no keys."""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from videoplanet.environment import Env

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()
Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
DEFAULT_SECRET_KEY = "insecure-local-only-key-change-me-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "js_lib_htmx",
    "django_tasks_db",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "generation",
    "history",
    "credits",
    "pixelart",
    "projects",
    "accounts",
    "audit",
    "operations",
    "api",
    "axes",
    "allauth",
    "allauth.account",
]

MIDDLEWARE = [
    # /healthz and /readyz, before host checks and HTTPS redirects (see the module).
    "operations.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # A signed-in user's chosen language over the cookie; Accept-Language alone under /api/.
    "accounts.middleware.AccountLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Last: turns a login that django-axes refused into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "videoplanet.urls"
WSGI_APPLICATION = "videoplanet.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "credits.context_processors.header_credits",
            ],
            # {% load formats %}: relative times, credits, durations, file sizes in the
            # page's language (videoplanet/formats.py).
            "libraries": {"formats": "videoplanet.formats"},
        },
    },
]

# An empty DATABASE_URL means the default too (a blank line in .env, or `DATABASE_URL= make run`).
DATABASES = {"default": env.database_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web threads, workers and the reconciler all write to one file: wait for the
    # lock instead of failing, and take it at BEGIN so a read never upgrades into a
    # deadlock.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

TASKS = {
    "default": {
        "BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "history:gallery"
LOGOUT_REDIRECT_URL = "account_login"

# --- accounts (django-allauth) ------------------------------------------------------
# Sign up, log in with the username or the email address, log out, change and reset the
# password by email. Verifying the address is offered ("optional"), required before the
# first login ("mandatory") or skipped ("none"). Mail leaves through MAILERS below.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.choice("ACCOUNT_EMAIL_VERIFICATION", choices=["optional", "mandatory", "none"], default="optional")
ACCOUNT_LOGOUT_REDIRECT_URL = LOGOUT_REDIRECT_URL
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[VideoPlanet] "
# Failed logins are counted by django-axes (below) for every login form alike; allauth's
# own cache-based count of them is off so that one rule, stored in the database, decides.
# Its other limits (reset and confirmation mails, sign-ups per address) stay on.
ACCOUNT_RATE_LIMITS = {"login_failed": None}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="VideoPlanet <videoplanet@localhost>")

# English and Korean. LocaleMiddleware picks the language from the user's choice (the
# language cookie, set by the header's switch) or else the browser's Accept-Language; a
# signed-in user's choice is stored on their account and applied from login on, and the
# API answers in the request's Accept-Language (accounts/middleware.py).
# The catalogs live in locale/ and are compiled by `python -m devtools.messages`, which
# both make commands run (no gettext tools needed at run time).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the app folders too, so a checkout works before collectstatic.
WHITENOISE_USE_FINDERS = True
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Where downloads (and large uploads) are spooled before storage takes them: on the
# file system of MEDIA_ROOT, local storage renames them into place; elsewhere it copies
# them. Empty: the system's temporary directory.
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default="") or None

STORAGES = {
    # Local disk by default; production sets STORAGE_BACKEND to an object-storage
    # backend (django-storages) and its options through the environment.
    "default": {
        "BACKEND": env.str("STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Django serves /media/ itself only when the files live on this machine's disk.
# Media is private: only `videoplanet.private_media` hands files out, after the view
# has checked who is asking. Nothing is served under MEDIA_URL. With object storage the
# owner is redirected to a signed URL valid this long:
MEDIA_URL_EXPIRE_SECONDS = env.int("MEDIA_URL_EXPIRE_SECONDS", default=300)
# With local disk behind nginx: the internal location that maps to MEDIA_ROOT (e.g.
# "/_protected_media/"), so nginx sends the file; or X-Sendfile for Apache/lighttpd.
# Unset: Django streams the file itself (with Range support).
MEDIA_X_ACCEL_REDIRECT = env.str("MEDIA_X_ACCEL_REDIRECT", default="")
MEDIA_X_SENDFILE = env.bool("MEDIA_X_SENDFILE", default=False)

# --- fal.ai ---------------------------------------------------------------
FAL_KEY = env.str("FAL_KEY", default="")

# A real deployment (it pays fal, or says it is one) must not sign sessions, password
# resets and CSRF tokens with a key anyone can read in this file.
PRODUCTION = env.bool("PRODUCTION", default=bool(FAL_KEY))
if PRODUCTION and not DEBUG and (SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a long random value in production (FAL_KEY or PRODUCTION is set); "
        "for instance: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )
# Without a key every provider call goes to the local sandbox (python -m falsandbox).
FAL_SANDBOX_URL = env.str("FAL_SANDBOX_URL", default="" if FAL_KEY else "http://127.0.0.1:8001").rstrip("/")
FAL_USE_SANDBOX = bool(FAL_SANDBOX_URL)
FAL_JWKS_URL = env.str(
    "FAL_JWKS_URL",
    default=f"{FAL_SANDBOX_URL}/.well-known/jwks.json" if FAL_USE_SANDBOX else "https://rest.alpha.fal.ai/.well-known/jwks.json",
)
FAL_JWKS_CACHE_SECONDS = env.int("FAL_JWKS_CACHE_SECONDS", default=6 * 3600)
FAL_JWKS_MIN_REFRESH_SECONDS = env.int("FAL_JWKS_MIN_REFRESH_SECONDS", default=30)
FAL_WEBHOOK_TOLERANCE_SECONDS = env.int("FAL_WEBHOOK_TOLERANCE_SECONDS", default=300)
FAL_WEBHOOK_MAX_BYTES = env.int("FAL_WEBHOOK_MAX_BYTES", default=1024 * 1024)
# What a refused delivery keeps of its body (with the size and SHA-256 of the whole).
FAL_WEBHOOK_PREVIEW_BYTES = env.int("FAL_WEBHOOK_PREVIEW_BYTES", default=4096)
# Refused deliveries one client address may send before its unsigned posts are
# answered 429 and no longer recorded (a rate such as 60/minute; counted in
# the cache, so use a shared CACHE_URL with several web processes).
FAL_WEBHOOK_REFUSED_RATE = env.rate("FAL_WEBHOOK_REFUSED_RATE", default="60/minute")
# `manage.py prune_deliveries` removes deliveries older than this.
FAL_WEBHOOK_RETENTION_DAYS = env.int("FAL_WEBHOOK_RETENTION_DAYS", default=30)
# fal's user id for our account (X-Fal-Webhook-User-Id): when set, deliveries signed
# for any other account are refused.
FAL_ACCOUNT_USER_ID = env.str("FAL_ACCOUNT_USER_ID", default="")
FAL_CLIENT_TIMEOUT = env.float("FAL_CLIENT_TIMEOUT", default=30.0)
# Where result files may be fetched from: fal's media hosts (a leading dot matches
# any subdomain). The sandbox's own address is added when the sandbox is in use.
FAL_MEDIA_HOSTS = env.list("FAL_MEDIA_HOSTS", default=["fal.media", ".fal.media", "storage.googleapis.com"])

# Where fal sends webhooks: this deployment's public address.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- pipeline limits --------------------------------------------------------
DOWNLOAD_MAX_BYTES = env.int("DOWNLOAD_MAX_BYTES", default=200 * 1024 * 1024)
DOWNLOAD_TIMEOUT_SECONDS = env.float("DOWNLOAD_TIMEOUT_SECONDS", default=60.0)
DOWNLOAD_LEASE_SECONDS = env.int("DOWNLOAD_LEASE_SECONDS", default=300)
# Allow downloads from loopback/private addresses (only the local sandbox needs it).
DOWNLOAD_ALLOW_PRIVATE = env.bool("DOWNLOAD_ALLOW_PRIVATE", default=FAL_USE_SANDBOX)
# Networks exempt from the public-address rule (e.g. a media mirror inside our own
# network), as CIDRs; empty by default.
DOWNLOAD_ALLOWED_NETWORKS = env.networks("DOWNLOAD_ALLOWED_NETWORKS", default=[])
# Ports a result URL may name (https's own by default; the sandbox's is always allowed).
DOWNLOAD_ALLOWED_PORTS = env.list("DOWNLOAD_ALLOWED_PORTS", cast=int, default=[443])
# Certificates trusted for result downloads (a PEM bundle); empty means certifi's.
DOWNLOAD_CA_BUNDLE = env.str("DOWNLOAD_CA_BUNDLE", default="")
DOWNLOAD_CONNECT_TIMEOUT_SECONDS = env.float("DOWNLOAD_CONNECT_TIMEOUT_SECONDS", default=10.0)
# A whole download (every redirect, every byte) must finish within this...
DOWNLOAD_DEADLINE_SECONDS = env.float("DOWNLOAD_DEADLINE_SECONDS", default=600.0)
# ...and bring at least this rate in every stretch of DOWNLOAD_THROUGHPUT_GRACE_SECONDS.
DOWNLOAD_MIN_BYTES_PER_SECOND = env.int("DOWNLOAD_MIN_BYTES_PER_SECOND", default=8 * 1024)
DOWNLOAD_THROUGHPUT_GRACE_SECONDS = env.float("DOWNLOAD_THROUGHPUT_GRACE_SECONDS", default=10.0)
# How often a running download renews its lease.
DOWNLOAD_PROGRESS_SECONDS = env.float("DOWNLOAD_PROGRESS_SECONDS", default=5.0)
INPUT_IMAGE_MAX_BYTES = env.int("INPUT_IMAGE_MAX_BYTES", default=10 * 1024 * 1024)
# A task waiting at the provider is asked about only when its webhook is overdue:
# WEBHOOK_OVERDUE_SECONDS after it was submitted (0: the model's expected time from the
# catalog; the sandbox renders in seconds, so it gets 20), then after STATUS_POLL_SECONDS,
# doubling each time up to STATUS_POLL_MAX_SECONDS. While someone has its card open it
# is asked at most every STATUS_POLL_SECONDS, for the progress shown on the card.
WEBHOOK_OVERDUE_SECONDS = env.int("WEBHOOK_OVERDUE_SECONDS", default=20 if FAL_USE_SANDBOX else 0)
STATUS_POLL_SECONDS = env.int("STATUS_POLL_SECONDS", default=10)
STATUS_POLL_MAX_SECONDS = env.int("STATUS_POLL_MAX_SECONDS", default=300)
# A task that was being submitted when its worker died is left alone this long, so
# that a webhook for a request that did reach the provider can still claim it.
SUBMIT_GRACE_SECONDS = env.int("SUBMIT_GRACE_SECONDS", default=600)
TASK_MAX_AGE_SECONDS = env.int("TASK_MAX_AGE_SECONDS", default=3 * 3600)
SUBMIT_MAX_ATTEMPTS = env.int("SUBMIT_MAX_ATTEMPTS", default=5)
DOWNLOAD_MAX_ATTEMPTS = env.int("DOWNLOAD_MAX_ATTEMPTS", default=5)
CANCEL_MAX_ATTEMPTS = env.int("CANCEL_MAX_ATTEMPTS", default=4)
RETRY_BASE_SECONDS = env.float("RETRY_BASE_SECONDS", default=2.0)

# --- provider guardrails (operations) -----------------------------------------
# Each provider group (a model family, or a whole account: the catalog's `group`) has
# at most PROVIDER_MAX_IN_FLIGHT requests at the provider and waits
# PROVIDER_MIN_INTERVAL_SECONDS between two submits; these are the defaults a group
# starts with, and staff change each group's figures in the admin.
PROVIDER_MAX_IN_FLIGHT = env.int("PROVIDER_MAX_IN_FLIGHT", default=3)
PROVIDER_MIN_INTERVAL_SECONDS = env.float("PROVIDER_MIN_INTERVAL_SECONDS", default=1.0 if FAL_USE_SANDBOX else 3.0)
# A group's circuit breaker opens after this many provider-side failures in a row (at
# once for an account refusal) and lets one probe through after the cool-down.
BREAKER_FAILURE_THRESHOLD = env.int("BREAKER_FAILURE_THRESHOLD", default=5)
BREAKER_COOLDOWN_SECONDS = env.int("BREAKER_COOLDOWN_SECONDS", default=60)

# Jobs per gallery page: a job's cards are never split across pages.
GALLERY_PAGE_SIZE = env.int("GALLERY_PAGE_SIZE", default=12)
GALLERY_REFRESH_SECONDS = env.int("GALLERY_REFRESH_SECONDS", default=3)
# A pixel art whose worker has said nothing for this long is taken over by another.
PIXELART_STALE_SECONDS = env.int("PIXELART_STALE_SECONDS", default=600)

# --- credits --------------------------------------------------------------
# Given to every user with their wallet, which is made on their first request.
CREDITS_WELCOME_GRANT = env.int("CREDITS_WELCOME_GRANT", default=10)
# Videos a user may start per day (midnight to midnight in TIME_ZONE), by tier.
DAILY_VIDEO_LIMITS = env.counts_by_name("DAILY_VIDEO_LIMITS", names={"free", "pro"}, default={"free": 20, "pro": 200})

# --- JSON API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an unauthenticated call then gets 401 with a WWW-Authenticate header.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    # The client address for throttles: see TRUSTED_PROXY_COUNT below.
    "NUM_PROXIES": env.int("TRUSTED_PROXY_COUNT", default=0),
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# JSON bodies larger than this are refused (413) before they are parsed; uploads
# (multipart) are bounded by INPUT_IMAGE_MAX_BYTES and Django's own limits.
API_JSON_MAX_BYTES = env.int("API_JSON_MAX_BYTES", default=64 * 1024)
# Throttles count in the cache (CACHE_URL): use a shared one when running several web
# processes, or each process counts on its own. Job creation and retries, per user:
API_JOB_CREATE_RATE = env.rate("API_JOB_CREATE_RATE", default="30/minute")
# Token requests with a password, per client address:
API_TOKEN_RATE = env.rate("API_TOKEN_RATE", default="10/minute")
SPECTACULAR_SETTINGS = {
    "TITLE": "VideoPlanet API",
    "DESCRIPTION": (
        "Generate AI videos, follow their progress and find the results: the same operations, rules and "
        "credits as the pages.\n\n"
        "**Authentication.** Send `Authorization: Token <token>`. Get your token with "
        "`POST /api/auth/token/` (username and password); staff can also make one in the admin, or with "
        "`manage.py drf_create_token <username>`. A signed-in browser session works too (with its CSRF token).\n\n"
        "**Errors** always look like `{\"error\": {\"code\": ..., \"message\": ..., \"fields\": {...}}}`: "
        "400 `invalid` (see `fields`), 401 `not_authenticated`, 402 `insufficient_credits`, "
        "403 `daily_limit_reached`, 404 `not_found` (also for another user's objects), 409 `not_retryable`, "
        "429 `throttled` (see `Retry-After`; job creation and retries are limited per user)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs pages' scripts are served from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Two models have a "status": name each set of choices.
    "ENUM_NAME_OVERRIDES": {"PixelArtStatusEnum": "pixelart.models.PixelArtStatus"},
}

# --- logins ---------------------------------------------------------------------
# How many reverse proxies of ours stand in front of the web server, each appending to
# X-Forwarded-For (see videoplanet/client_address.py). 0: the header is ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Password guessing (HTML login, admin login, API token) is limited by django-axes,
# which counts failures in the database, so every web process and machine shares the
# count: LOGIN_FAILURE_LIMIT failures for one account, or from one address, lock that
# account or address out for LOGIN_COOLOFF_MINUTES.
# allauth's backend is Django's ModelBackend that also accepts an email address; allauth's
# login form passes the typed login as `username` too, which is what axes counts.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "allauth.account.auth_backends.AuthenticationBackend"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "videoplanet.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# One count per account however its login is spelt (username in any case, or email).
AXES_USERNAME_CALLABLE = "accounts.lockout.login_name"
# A success does not wipe the failures: otherwise a guesser with an account of their
# own could log into it between guesses and reset the count for their address.
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False

# Served over https behind a TLS-terminating proxy (production): trust the proxy's
# X-Forwarded-Proto, redirect plain http, and keep cookies and browsers on https.
if env.bool("HTTPS", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=3600)

# --- operations: monitoring, health, alerts ---------------------------------------
# /metrics answers these addresses (as TRUSTED_PROXY_COUNT finds the client), or a
# caller with "Authorization: Bearer <METRICS_TOKEN>" or a staff member's API token.
METRICS_ALLOWED_NETWORKS = env.networks("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Rates and timings on /metrics cover this many seconds back.
METRICS_WINDOW_SECONDS = env.int("METRICS_WINDOW_SECONDS", default=3600)
# Workers record a sign of life this often; /readyz wants one younger than the max age.
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=15)
HEALTH_WORKER_MAX_AGE_SECONDS = env.int("HEALTH_WORKER_MAX_AGE_SECONDS", default=120)
# The reconciler asks the provider about overdue tasks every pass; its repairs (lost
# steps, expired leases, tasks past their maximum age, abandoned pixel art), which look
# for what has been quiet for a minute or more, run at most this often.
RECONCILE_REPAIR_SECONDS = env.float("RECONCILE_REPAIR_SECONDS", default=5.0)
HEALTH_RECONCILER_MAX_AGE_SECONDS = env.int("HEALTH_RECONCILER_MAX_AGE_SECONDS", default=120)
# Alerts (one mail to ADMINS when a threshold is passed, one when it is resolved; 0
# turns a rule off). The reconciler checks them every ALERT_CHECK_SECONDS.
ALERT_CHECK_SECONDS = env.int("ALERT_CHECK_SECONDS", default=30)
ALERT_WINDOW_SECONDS = env.int("ALERT_WINDOW_SECONDS", default=900)
ALERT_ERROR_RATE = env.float("ALERT_ERROR_RATE", default=0.5)
ALERT_ERROR_RATE_MIN_TASKS = env.int("ALERT_ERROR_RATE_MIN_TASKS", default=5)
ALERT_OLDEST_WAITING_SECONDS = env.int("ALERT_OLDEST_WAITING_SECONDS", default=1800)
ALERT_BACKLOG = env.int("ALERT_BACKLOG", default=500)
ALERT_SPEND_USD_PER_DAY = env.float("ALERT_SPEND_USD_PER_DAY", default=100.0)
ALERT_OPEN_BREAKERS = env.int("ALERT_OPEN_BREAKERS", default=1)
ALERT_REFUSED_SIGNATURES = env.int("ALERT_REFUSED_SIGNATURES", default=20)
# Who gets the alerts (email addresses), and how mail leaves: Django's mail backend
# and its options (for SMTP: {"host": ..., "port": 587, "username": ..., "password":
# ..., "use_tls": true}). The console by default, so that locally the mails appear in
# the reconciler's output.
ADMINS = env.list("ADMINS", default=[] if PRODUCTION else ["admins@localhost"])
SERVER_EMAIL = env.str("SERVER_EMAIL", default="videoplanet@localhost")
EMAIL_SUBJECT_PREFIX = "[VideoPlanet] "
MAILERS = {
    "default": {
        "BACKEND": env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"),
        "OPTIONS": env.json("EMAIL_OPTIONS", default={}),
    }
}

# Server-error reports (the mail to ADMINS) mask secrets in query strings: the webhook
# URL carries each task's token (videoplanet/error_reports.py).
DEFAULT_EXCEPTION_REPORTER = "videoplanet.error_reports.SecretsMaskedReporter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "generation": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
        "history": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
        "credits": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
        "operations": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    },
}
