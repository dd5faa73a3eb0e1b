"""A minimal Django project serving djangorestframework-simplejwt's four views, for the
browser tests of clients/js: /token/, /token/refresh/, /token/verify/, /token/blacklist/.

Usage: python server.py DATABASE_FILE PASSWORD USERS
Creates USERS users (user1, user2, ...) with PASSWORD, then prints "listening on URL".
"""

import sys
from datetime import timedelta
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
from django.conf import settings
from django.urls import path

database, password, users = sys.argv[1], sys.argv[2], int(sys.argv[3])

settings.configure(
    DEBUG=False,
    SECRET_KEY="e2e-only-" + "x" * 50,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
        "rest_framework_simplejwt.token_blacklist",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": database}},
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    USE_TZ=True,
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework_simplejwt.authentication.JWTAuthentication"
        ],
    },
    SIMPLE_JWT={
        # As ACCESS_LIFETIME_S in e2e/harness.mjs, which waits that long for tokens to expire.
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=5),
        "ROTATE_REFRESH_TOKENS": True,
        "BLACKLIST_AFTER_ROTATION": True,
    },
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from rest_framework_simplejwt.views import (  # noqa: E402
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)

urlpatterns = [
    path("token/", TokenObtainPairView.as_view()),
    path("token/refresh/", TokenRefreshView.as_view()),
    path("token/verify/", TokenVerifyView.as_view()),
    path("token/blacklist/", TokenBlacklistView.as_view()),
]

call_command("migrate", verbosity=0)
for number in range(1, users + 1):
    User.objects.create_user(f"user{number}", password=password)


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


server = make_server(
    "127.0.0.1", 0, get_wsgi_application(), ThreadingServer, QuietHandler
)
print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
