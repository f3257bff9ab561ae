#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Each seed is a small, meaningful input: valid and tampered tokens for the test keys of
crates/jwt-allauth/tests/keys (HS256 with the test secret, the rotation ring's old
secret, Ed25519 signed with `openssl pkeyutl`), real User-Agents from the device tests,
X-Forwarded-For chains, settings documents. The files are committed; run this again
(python3 fuzz/make-seeds.py) only to change them. Tokens expire in 2030; the targets
check them at a fixed time in 2027.
"""

import base64
import hashlib
import hmac
import json
import pathlib
import shutil
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent
KEYS = ROOT.parent / "crates" / "jwt-allauth" / "tests" / "keys"
SECRET = b"test secret of thirty-two bytes or more!"
OLD_SECRET = b"the old secret, thirty-two bytes long"
NOW = 1_800_000_000
EXP = 1_900_000_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def hs256(message: str, secret: bytes = SECRET) -> str:
    return b64(hmac.new(secret, message.encode(), hashlib.sha256).digest())


def eddsa(message: str) -> str:
    # Ed25519 in `openssl pkeyutl` needs the whole message up front: a file, not a pipe.
    with tempfile.NamedTemporaryFile() as file:
        file.write(message.encode())
        file.flush()
        signature = subprocess.run(
            ["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", str(KEYS / "ed-private.pem"),
             "-in", file.name],
            capture_output=True,
            check=True,
        ).stdout
    return b64(signature)


def token(header, payload, sign=hs256) -> str:
    header = header if isinstance(header, bytes) else compact(header)
    payload = payload if isinstance(payload, bytes) else compact(payload)
    message = f"{b64(header)}.{b64(payload)}"
    return f"{message}.{sign(message)}"


def claims(token_type="access", **extra):
    payload = {
        "token_type": token_type,
        "exp": EXP,
        "iat": NOW,
        "jti": "0123456789abcdef0123456789abcdef",
        "user_id": "7",
        "session": "fedcba9876543210fedcba9876543210",
        "session_iat": NOW - 60,
        "role": 1000,
        "email_verified": True,
    }
    payload.update(extra)
    return payload


HS = {"alg": "HS256", "typ": "JWT"}
ED = {"alg": "EdDSA", "typ": "JWT"}
ROTATED = dict(iss="https://issuer.example", aud="api")

ACCESS = token(HS, claims())
REFRESH = token(HS, claims("refresh"))
ED_ACCESS = token(ED, claims(), eddsa)


def token_seeds():
    tampered = ACCESS.split(".")
    return {
        "hs256-access": ACCESS,
        "hs256-refresh": REFRESH,
        "hs256-extra-claims": token(HS, claims(org_id=42, perms=["a", "b"], profile={"x": 1.5})),
        "hs256-expired": token(HS, claims(exp=NOW - 3600)),
        "rotation-kid-2026": token({**HS, "kid": "2026"}, claims(**ROTATED)),
        "rotation-kid-2025-old-secret": token(
            {**HS, "kid": "2025"}, claims("refresh", **ROTATED), lambda m: hs256(m, OLD_SECRET)
        ),
        "rotation-unknown-kid": token({**HS, "kid": "1999"}, claims(**ROTATED)),
        "eddsa-access": ED_ACCESS,
        "alg-none": token({"alg": "none", "typ": "JWT"}, claims(), lambda m: ""),
        "alg-none-uppercase": token({"alg": "NONE"}, claims(), lambda m: ""),
        "hs256-header-ed-signature": token(HS, claims(), eddsa),
        "tampered-payload": ".".join([tampered[0], b64(compact(claims(role=9999))), tampered[2]]),
        "padded-signature": ACCESS + "=",
        "sub-and-nbf": token(HS, claims(sub="7", nbf=NOW)),
        "sub-array": token(HS, claims(sub=[1, 2])),
        "exp-float": token(HS, claims(exp=1.9e9)),
        "duplicate-exp": token(HS, compact(claims())[:-1] + b',"exp":1}'),
        "four-segments": ACCESS + ".e30",
        "jwk-in-header": token({**HS, "jwk": {"kty": "oct", "k": b64(b"x")}}, claims()),
    }


def signed_seeds():
    def pair(header: str, payload) -> str:
        payload = payload if isinstance(payload, str) else compact(payload).decode()
        return f"{header}\n{payload}"

    body = compact(claims()).decode()
    return {
        "hs256": pair('{"alg":"HS256","typ":"JWT"}', claims()),
        "hs256-refresh": pair('{"typ":"JWT","alg":"HS256"}', claims("refresh")),
        "eddsa": pair('{"alg":"EdDSA"}', claims()),
        "kid-2025": pair('{"alg":"HS256","kid":"2025"}', claims(**ROTATED)),
        "kid-number": pair('{"alg":"HS256","kid":2025}', claims()),
        "alg-lowercase": pair('{"alg":"hs256"}', claims()),
        "alg-none": pair('{"alg":"none"}', claims()),
        "alg-duplicate": pair('{"alg":"HS256","alg":"EdDSA"}', claims()),
        "header-array": pair('["HS256"]', claims()),
        "header-crit": pair('{"alg":"HS256","crit":["exp"],"x5u":"https://evil.example"}', claims()),
        "header-crit-empty": pair('{"alg":"HS256","crit":[]}', claims()),
        "header-b64-false": pair('{"alg":"HS256","b64":false,"crit":["b64"]}', claims()),
        "payload-duplicate-exp": pair('{"alg":"HS256"}', body[:-1] + ',"exp":1}'),
        "payload-sub-object": pair('{"alg":"HS256"}', claims(sub={"id": 7})),
        "payload-nbf-string": pair('{"alg":"HS256"}', claims(nbf="soon")),
        "payload-nbf-future": pair('{"alg":"HS256"}', claims(nbf=EXP - 1)),
        "payload-nbf-float": pair('{"alg":"HS256"}', claims(nbf=NOW - 0.5)),
        "payload-exp-huge": pair('{"alg":"HS256"}', body.replace(str(EXP), "9223372036854775808")),
        "payload-exp-negative": pair('{"alg":"HS256"}', claims(exp=-1)),
        "payload-role-string": pair('{"alg":"HS256"}', claims(role="1000")),
        "payload-missing-user-id": pair(
            '{"alg":"HS256"}', {k: v for k, v in claims().items() if k != "user_id"}
        ),
        "payload-iss-aud": pair('{"alg":"HS256","kid":"2026"}', claims(**ROTATED)),
        "payload-aud-array": pair('{"alg":"HS256","kid":"2026"}', claims(iss=ROTATED["iss"], aud=["api"])),
        "payload-not-object": pair('{"alg":"HS256"}', "[1,2,3]"),
        "payload-whitespace": pair('{"alg":"HS256"}', " " + body + "\n"),
    }


def auth_header_seeds():
    return {
        "bearer": f"authorization: Bearer {ACCESS}",
        "bearer-lowercase-spaces": f"Authorization: bearer   {ACCESS}  ",
        "bearer-eddsa": f"authorization: Bearer {ED_ACCESS}",
        "bearer-refresh-token": f"authorization: Bearer {REFRESH}",
        "bearer-two-values": f"authorization: Bearer {ACCESS} extra",
        "bearer-alone": "authorization: Bearer",
        "two-authorization-headers": f"authorization: Bearer {ACCESS}\nauthorization: Bearer x",
        "basic": "authorization: Basic dXNlcjpwYXNz",
        "empty": "authorization: ",
        "tab-separated": f"authorization: Bearer\t{ACCESS}",
        "cookie": f"cookie: theme=dark; refresh_token={REFRESH}; lang=en",
        "cookie-several": f"cookie: refresh_token=\ncookie: refresh_token={REFRESH}; refresh_token=second",
        "cookie-host-prefix": f"cookie: __Host-rt={REFRESH}",
        "cookie-quoted": 'cookie: refresh_token="quoted value"; a=b',
        "cookie-malformed": "cookie: =; ;;refresh_token; =x; refresh_token = spaced",
        "both": f"authorization: Bearer {ACCESS}\ncookie: refresh_token={REFRESH}",
    }


# Real User-Agents of the device tests (crates/jwt-allauth/src/device/).
USER_AGENTS = {
    "chrome-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "firefox-ubuntu": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "safari-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "safari-iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
    "safari-ipad": "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "chrome-android-phone": "Mozilla/5.0 (Linux; Android 13; SM-S901B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0.0.0 Mobile Safari/537.36",
    "chrome-pixel": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36",
    "android-tablet": "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "googlebot-smartphone": "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.199 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "bingbot": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl": "curl/8.5.0",
    "python-requests": "python-requests/2.31.0",
    "control-and-bidi": "Mozilla/5.0 (Linux; Android 13; Pix\u0007el\u202e 8) Mobile Safari",
    "blank": "   ",
    "long": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0 " + "é" * 600,
}


def client_ip_seeds():
    return {
        "untrusted-peer": "203.0.113.9\n10.0.0.0/8\nx-forwarded-for: 198.51.100.1",
        "one-proxy": "10.0.0.1\n10.0.0.0/8\nx-forwarded-for: 203.0.113.7",
        "proxy-chain": "10.0.0.1\n10.0.0.0/8, 172.16.0.0/12\nx-forwarded-for: 198.51.100.1, 203.0.113.7, 172.16.3.4, 10.0.0.2",
        "all-trusted": "10.0.0.1\n10.0.0.0/8\nx-forwarded-for: 10.1.1.1, 10.2.2.2",
        "ports-and-brackets": "10.0.0.1\n10.0.0.0/8\nx-forwarded-for: [2001:db8::1]:443, 203.0.113.7:8080",
        "ipv6-proxy": "::1\n::1, fd00::/8\nx-forwarded-for: 2001:db8::7, fd00::1",
        "mapped-peer": "::ffff:10.0.0.1\n10.0.0.0/8\nx-forwarded-for: ::ffff:203.0.113.7",
        "several-headers": "10.0.0.1\n10.0.0.0/8\nx-forwarded-for: 198.51.100.1\nX-Forwarded-For: 203.0.113.7\nuser-agent: curl/8.5.0",
        "junk-left": "10.0.0.1\n10.0.0.0/8\nx-forwarded-for: junk, unknown, 203.0.113.7",
        "junk-right": "10.0.0.1\n10.0.0.0/8\nx-forwarded-for: 203.0.113.7, not-an-ip",
        "empty-header": "10.0.0.1\n10.0.0.0/8\nx-forwarded-for: ",
        "no-peer": "\n10.0.0.0/8\nx-forwarded-for: 203.0.113.7",
        "long-chain": "10.0.0.1\n10.0.0.0/8\nx-forwarded-for: " + ", ".join(f"10.0.{i}.1" for i in range(40)),
        "non-ascii": "10.0.0.1\n10.0.0.0/8\nx-forwarded-for: 203.0.113.7\u00e9",
    }


FULL_SETTINGS = """\
algorithm = "HS256"
access_token_lifetime = "15m"
refresh_token_lifetime = "14d"
session_lifetime = "90d"
reuse_interval = 10
leeway = "30s"
refresh_token_as_cookie = true
cookie_name = "refresh_token"
cookie_secure = true
cookie_samesite = "strict"
cookie_path = "/api/"
cookie_domain = "example.com"
collect_user_agent = true
access_token_session_check = false
trusted_proxies = ["10.0.0.0/8", "127.0.0.1"]
csrf_trusted_origins = ["https://app.example.com"]
issuer = "https://issuer.example"
audience = "api"
login_failures_per_ip = 20
login_failures_per_email = 5
purpose_token_lifetime = "1h"
database_url = "sqlite://jwt-allauth.sqlite3"
bind = "127.0.0.1:8000"
development_mode = false
header_read_timeout = "10s"
idle_timeout = "1m"
max_connections = 4096

[user_attributes]
org_id = "profile.organization.id"

[purpose_token_lifetimes]
password_reset = "1h"
email_verification = "3d"
"""


def settings_seeds():
    return {
        "full": "secret\n" + FULL_SETTINGS,
        "full-with-env": "s3\n" + FULL_SETTINGS
        + "%%env\nJWT_ALLAUTH_ACCESS_TOKEN_LIFETIME=5m\nJWT_ALLAUTH_TRUSTED_PROXIES=10.0.0.0/8,::1\nDATABASE_URL=postgres://db/app\n",
        "env-only": "x\n%%env\nJWT_ALLAUTH_ALGORITHM=eddsa\nJWT_ALLAUTH_PRIVATE_KEY_FILE=/keys/private.pem\nJWT_ALLAUTH_SESSION_LIFETIME=none\n",
        "env-bad-duration": "x\n%%env\nJWT_ALLAUTH_REUSE_INTERVAL=1h30x\n",
        "env-json-lists": 'x\n%%env\nJWT_ALLAUTH_CSRF_TRUSTED_ORIGINS=["https://a.example"]\nJWT_ALLAUTH_USER_ATTRIBUTES={"org":"org.id"}\n',
        "rotation": 'x\nprevious_algorithm = "HS256"\nprevious_key_id = "2025"\nkey_id = "2026"\n',
        "duplicate-key-case": 'x\nLEEWAY = 1\nleeway = 2\n',
        "secret-given-twice": 'x\nSECRET_KEY = "other"\n',
        "unknown-key": 'x\nnot_a_setting = 1\n',
        "bad-toml": 'quote"\\\nalgorithm = \n',
        "too-long-duration": 'x\naccess_token_lifetime = "200000d"\n',
        "reserved-attribute": 'x\n[user_attributes]\nexp = "a.b"\n',
        "datetime-value": 'x\nissuer = 1979-05-27T07:32:00Z\n',
    }


def write(target: str, seeds: dict):
    directory = ROOT / "corpus" / target
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for name, text in seeds.items():
        (directory / name).write_bytes(text.encode())


def main():
    write("token_decode", token_seeds())
    write("token_signed", signed_seeds())
    write("auth_headers", auth_header_seeds())
    write("user_agent", USER_AGENTS)
    write("client_ip", client_ip_seeds())
    write("settings", settings_seeds())


if __name__ == "__main__":
    main()
