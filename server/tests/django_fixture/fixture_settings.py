"""Minimal Django settings for generating the django-jwt-allauth 1.5 fixture.

Only `generate.py` uses this module (see its docstring). The database is chosen by the
environment variable FIXTURE_DATABASE: `sqlite:<path>` or `postgres:<dbname>`.
"""

import os
from datetime import timedelta

SECRET_KEY = "django-fixture-site-secret-not-the-jwt-one"
# The JWT signing secret (the library signs with SECRET_KEY when this is not set).
JWT_ALLAUTH_SECRET_KEY = "django-fixture-jwt-signing-secret-0123456789abcdef"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "jwt_allauth.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "jwt_allauth",
    "rest_framework",
    "rest_framework.authtoken",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
SITE_ID = 1

# As `jwt-allauth startproject` writes them.
AUTH_USER_MODEL = "jwt_allauth.JAUser"
ACCOUNT_ADAPTER = "jwt_allauth.adapter.JWTAllAuthAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
AUTHENTICATION_BACKENDS = (
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ("jwt_allauth.authentication.JWTAllAuthAuthentication",)
}

# The tokens minted into the fixture must outlive the tests, which check `exp` against the
# real clock: 100 years (documented in README.md, "Migrating from django-jwt-allauth").
JWT_ALLAUTH_ACCESS_TOKEN_LIFETIME = timedelta(days=36500)
JWT_ALLAUTH_REFRESH_TOKEN_LIFETIME = timedelta(days=36500)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": JWT_ALLAUTH_ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": JWT_ALLAUTH_REFRESH_TOKEN_LIFETIME,
}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
]

MIGRATION_MODULES = {"jwt_allauth": "fixture_migrations.jwt_allauth"}

_database = os.environ.get("FIXTURE_DATABASE", "sqlite:/tmp/dja-fixture.sqlite3")
_kind, _, _name = _database.partition(":")
if _kind == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _name,
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": "5432",
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _name}}
