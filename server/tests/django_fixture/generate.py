#!/usr/bin/env python3
"""Builds the django-jwt-allauth 1.5 fixture of `server/tests/django_import.rs`.

CI does not run Python: the outputs are committed. To regenerate them (needs PostgreSQL at
127.0.0.1:5432, user postgres, trust authentication):

    python3 -m venv /tmp/djvenv
    /tmp/djvenv/bin/pip install 'django-jwt-allauth==1.5.*' argon2-cffi bcrypt 'psycopg[binary]'
    /tmp/djvenv/bin/python server/tests/django_fixture/generate.py

It runs the library's own migrations (made by `makemigrations jwt_allauth`, as the
library's `startproject` tells its users to) on a fresh SQLite file and on a fresh
PostgreSQL database `dja_fixture`, creates users with Django's own hashers (pbkdf2_sha256,
argon2, bcrypt_sha256), allauth e-mail addresses and sessions minted by the library's own
`RefreshToken` (some rotated by its own refresh serializer), then writes:

- `source.sqlite.sql`: the SQLite database as SQL (`sqlite3 .dump`);
- `source.postgres.sql`: the PostgreSQL database as SQL (`pg_dump --inserts`);
- `facts.json`: what the tests need to know: the signing secret, the passwords, the
  tokens, the session ids and the rows that are corrupt on purpose.

The tokens are minted with 100-year lifetimes (`fixture_settings.py`) because the server
checks `exp` against the real clock.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SQLITE_PATH = os.path.join(tempfile.gettempdir(), "dja-fixture.sqlite3")
PG_NAME = "dja_fixture"


def setup_django():
    migrations = tempfile.mkdtemp(prefix="dja-migrations-")
    package = os.path.join(migrations, "fixture_migrations", "jwt_allauth")
    os.makedirs(package)
    for directory in (os.path.dirname(package), package):
        open(os.path.join(directory, "__init__.py"), "w").close()
    sys.path.insert(0, migrations)
    sys.path.insert(0, HERE)
    os.environ["DJANGO_SETTINGS_MODULE"] = "fixture_settings"
    os.environ["FIXTURE_DATABASE"] = f"sqlite:{SQLITE_PATH}"
    import django

    django.setup()
    from django.core.management import call_command

    # The whitelist and purpose token models live in `jwt_allauth.tokens.models`, which
    # the app imports only when its views load: import them so that `makemigrations`
    # sees them, as it does in a project that routes the library's URLs.
    import jwt_allauth.tokens.models  # noqa: F401

    call_command("makemigrations", "jwt_allauth", verbosity=0)
    return call_command


def fresh_postgres():
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
         f"DROP DATABASE IF EXISTS {PG_NAME}"], check=True)
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
         f"CREATE DATABASE {PG_NAME}"], check=True)


def request_from(user_agent, ip):
    """A request as the library's views see it after django_user_agents' middleware."""
    from django.test import RequestFactory
    from django_user_agents.utils import get_user_agent

    request = RequestFactory().post("/login/", HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)
    request.user_agent = get_user_agent(request)
    request.ip = ip
    return request


def rotate(refresh, request):
    """Rotates `refresh` with the library's own refresh serializer: the successor."""
    from jwt_allauth.token_refresh.serializers import TokenRefreshSerializer
    from jwt_allauth.utils import user_agent_dict

    serializer = TokenRefreshSerializer(
        data={"refresh": str(refresh)}, context=user_agent_dict(request))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["refresh"]


FIREFOX = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                  "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36")


def populate():
    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from jwt_allauth.constants import PASS_RESET
    from jwt_allauth.tokens.models import GenericTokenModel
    from jwt_allauth.tokens.tokens import GenericToken, RefreshToken

    User = get_user_model()
    from rest_framework_simplejwt.settings import api_settings

    facts = {"secret_key": api_settings.SIGNING_KEY, "users": {}, "tokens": {}, "corrupt": {}}

    def user(username, email, password, hasher, verified=None, **fields):
        made = User.objects.create(
            username=username, email=email,
            password=make_password(password, hasher=hasher) if password else "!unusable",
            **fields)
        if verified is not None:
            EmailAddress.objects.create(user=made, email=email, verified=verified, primary=True)
        facts["users"][username] = {"id": made.id, "email": email, "password": password}
        return made

    alice = user("alice", "alice@example.com", "alice-django-pbkdf2", "pbkdf2_sha256",
                 verified=True, first_name="Alice", last_name="Liddell")
    bob = user("bob", "Bob@Example.com", "bob-django-argon2", "argon2", verified=True,
               first_name="Bob", is_superuser=True, role=900)
    carol = user("carol", "carol@example.com", "carol-django-bcrypt", "bcrypt_sha256",
                 verified=False)
    dave = user("dave", "dave@example.com", "dave-django-pbkdf2", "pbkdf2_sha256",
                verified=True, is_staff=True, is_superuser=True, role=1000, is_active=False)
    # Signed up through a social account: no usable password, imported as it is.
    user("frank", "frank@example.com", None, None, verified=True)
    # A second address differing from alice's only in case: Django allows it, we do not.
    user("alice2", "ALICE@example.com", "alice2-password", "pbkdf2_sha256", verified=False)
    # No e-mail address at all (an admin account made with `createsuperuser` by name).
    user("admin", "", "admin-password", "pbkdf2_sha256", is_staff=True, role=1000)
    # Corrupt on purpose: a password hash that does not parse.
    eve = user("eve", "eve@example.com", "eve-password", "pbkdf2_sha256", verified=True)
    User.objects.filter(pk=eve.pk).update(password="pbkdf2_sha256$many$salt$hash")
    facts["corrupt"]["password_hash_user"] = "eve@example.com"
    # A verified address that is not primary must not verify the account's own.
    EmailAddress.objects.create(user=carol, email="carol.old@example.com", verified=True,
                                primary=False)

    firefox = request_from(FIREFOX, "203.0.113.7")
    iphone = request_from(IPHONE, "198.51.100.23")
    chrome = request_from(CHROME_WINDOWS, "192.0.2.44")

    # alice: a session rotated once by the library (its first token is now a replay) and
    # a fresh one on her phone.
    first = RefreshToken.for_user(alice, request=firefox)
    facts["tokens"]["alice_laptop_rotated_in_django"] = str(first)
    current = rotate(first, firefox)
    facts["tokens"]["alice_laptop_refresh"] = current
    facts["tokens"]["alice_laptop_access"] = str(RefreshToken(current).access_token)
    facts["tokens"]["alice_laptop_session"] = first.payload["session"]
    phone = RefreshToken.for_user(alice, request=iphone)
    facts["tokens"]["alice_phone_refresh"] = str(phone)
    facts["tokens"]["alice_phone_session"] = phone.payload["session"]
    older = RefreshToken.for_user(bob, request=chrome)
    facts["tokens"]["bob_rotated_in_django"] = str(older)
    facts["tokens"]["bob_refresh"] = rotate(older, chrome)
    facts["tokens"]["bob_session"] = older.payload["session"]
    # carol's session waits for her address to be verified (mandatory verification).
    waiting = RefreshToken.for_user(carol, request=iphone, enabled=False)
    facts["tokens"]["carol_refresh"] = str(waiting)
    facts["tokens"]["carol_session"] = waiting.payload["session"]
    RefreshToken.for_user(dave, request=chrome)
    # eve's session goes with her corrupt row.
    RefreshToken.for_user(eve, request=firefox)

    # A session row with a malformed session id (as a broken release or a hand edit would
    # leave): reported and skipped, alice's other sessions imported.
    from jwt_allauth.tokens.models import RefreshTokenWhitelistModel
    broken = RefreshToken.for_user(alice, request=chrome)
    RefreshTokenWhitelistModel.objects.filter(jti=broken.payload["jti"]).update(
        session="not a session id")
    facts["corrupt"]["session_jti"] = broken.payload["jti"]

    # Pending purpose tokens: a password reset link of bob's (maps to ours), and an
    # invitation (no equivalent here: skipped).
    reset = GenericToken(purpose=PASS_RESET, request=chrome).make_token(bob)
    facts["tokens"]["bob_password_reset"] = reset
    facts["tokens"]["bob_password_reset_uidb64"] = __import__("base64").urlsafe_b64encode(
        str(bob.pk).encode()).decode().rstrip("=")
    GenericToken(purpose="INVITATION", request=chrome).make_token(carol)

    connection.close()
    return facts


def copy_to_postgres(call_command):
    """The same rows, migrated by Django on PostgreSQL."""
    from django.conf import settings
    from django.db import connections

    settings.DATABASES["pg"] = {
        "ENGINE": "django.db.backends.postgresql", "NAME": PG_NAME, "USER": "postgres",
        "HOST": "127.0.0.1", "PORT": "5432",
    }
    connections.settings = connections.configure_settings(settings.DATABASES)
    call_command("migrate", database="pg", verbosity=0)
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from jwt_allauth.tokens.models import GenericTokenModel, RefreshTokenWhitelistModel

    for model in (get_user_model(), EmailAddress, RefreshTokenWhitelistModel,
                  GenericTokenModel):
        rows = list(model.objects.using("default").all())
        for field in model._meta.fields:
            # Copy `created` as it is instead of stamping the copy's time.
            if getattr(field, "auto_now_add", False):
                field.auto_now_add = False
        model.objects.using("pg").bulk_create(rows)
    import io
    from django.core.management import call_command as command

    buffer = io.StringIO()
    command("sqlsequencereset", "jwt_allauth", "account", database="pg", stdout=buffer)
    with connections["pg"].cursor() as cursor:
        cursor.execute(buffer.getvalue())
    connections["pg"].close()


def main():
    if os.path.exists(SQLITE_PATH):
        os.remove(SQLITE_PATH)
    fresh_postgres()
    call_command = setup_django()
    call_command("migrate", verbosity=0)
    facts = populate()
    copy_to_postgres(call_command)

    with sqlite3.connect(SQLITE_PATH) as db:
        dump = "\n".join(db.iterdump())
    with open(os.path.join(HERE, "source.sqlite.sql"), "w") as out:
        out.write("-- Generated by generate.py: a django-jwt-allauth 1.5 database (SQLite).\n")
        out.write(dump + "\n")
    pg = subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "--no-owner", "--no-privileges",
         "--inserts", PG_NAME], check=True, capture_output=True, text=True).stdout
    # pg_dump's psql meta-commands (`\\restrict`) are not SQL: the tests run the file as SQL.
    pg = "\n".join(line for line in pg.splitlines() if not line.startswith("\\")) + "\n"
    with open(os.path.join(HERE, "source.postgres.sql"), "w") as out:
        out.write("-- Generated by generate.py: a django-jwt-allauth 1.5 database (PostgreSQL).\n")
        out.write(pg)
    with open(os.path.join(HERE, "facts.json"), "w") as out:
        json.dump(facts, out, indent=2, sort_keys=True)
        out.write("\n")


if __name__ == "__main__":
    main()
