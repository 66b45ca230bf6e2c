"""A desktop app written with Python authlib (Debian's python3-authlib), as e2e/interop/authlib.test.ts
runs it: /usr/bin/python3 authlib-app.py ISSUER CLIENT_ID

It signs in over a loopback redirect on 127.0.0.1 (RFC 8252 section 7.3) with PKCE, checks the ID
token with authlib.jose against the issuer's JWKS, calls UserInfo through the session, waits until
the access token has expired and calls UserInfo again (authlib's OAuth2Session refreshes on its own
when the token has expired), then revokes the refresh token (RFC 7009) and shows that it no longer
refreshes. Each step is one JSON line on stdout; the test opens the "authorize" URL in Chromium.
"""

import base64
import http.server
import json
import sys
import threading
import time
import urllib.parse

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

ISSUER, CLIENT_ID = sys.argv[1], sys.argv[2]
SCOPE = "openid profile email offline_access"


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def error_code(error):
    """The OAuth error code, whichever way authlib raised it."""
    return getattr(error, "error", None) or str(error)


class Callback(http.server.BaseHTTPRequestHandler):
    received = None
    done = threading.Event()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/callback":
            self.send_response(404)
            self.end_headers()
            return
        Callback.received = f"http://127.0.0.1:{self.server.server_port}{self.path}"
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"<!doctype html><title>Signed in</title><h1>Signed in</h1>")
        Callback.done.set()

    def log_message(self, *args):
        pass


def main():
    metadata = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=10).json()
    jwks = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())

    loopback = http.server.HTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=loopback.serve_forever, daemon=True).start()
    redirect_uri = f"http://127.0.0.1:{loopback.server_port}/callback"

    refreshed = []
    session = OAuth2Session(
        CLIENT_ID,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
        # With token_endpoint set, the session refreshes an expired token before a request.
        token_endpoint=metadata["token_endpoint"],
        update_token=lambda token, refresh_token=None, access_token=None: refreshed.append(token),
    )

    code_verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )
    emit("authorize", url=url)
    if not Callback.done.wait(60):
        emit("error", message="no redirect within 60 s")
        return 1

    token = session.fetch_token(
        metadata["token_endpoint"],
        authorization_response=Callback.received,
        state=state,
        code_verifier=code_verifier,
    )
    claims = jwt.decode(
        token["id_token"],
        jwks,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": ISSUER}},
        claims_params={"nonce": nonce, "client_id": CLIENT_ID},
    )
    claims.validate()
    me = session.get(metadata["userinfo_endpoint"], timeout=10)
    emit(
        "signed-in",
        email=claims.get("email"),
        alg=jwt_alg(token["id_token"]),
        expires_in=token.get("expires_in"),
        has_refresh_token=bool(token.get("refresh_token")),
        userinfo_status=me.status_code,
        userinfo=me.json(),
    )

    time.sleep(max(0, token["expires_at"] - time.time()) + 1.0)
    old_access_token = token["access_token"]
    expired = requests.get(
        metadata["userinfo_endpoint"],
        headers={"authorization": f"Bearer {old_access_token}"},
        timeout=10,
    )
    try:
        me = session.get(metadata["userinfo_endpoint"], timeout=10)
    except OAuthError as error:
        emit("refresh-failed", error=error_code(error), description=getattr(error, "description", None))
        return 0
    emit(
        "refreshed",
        expired_status=expired.status_code,
        updated=len(refreshed),
        new_access_token=session.token["access_token"] != old_access_token,
        rotated=session.token.get("refresh_token") != token.get("refresh_token"),
        userinfo_status=me.status_code,
        email=me.json().get("email"),
    )

    refresh_token = session.token["refresh_token"]
    revoked = session.revoke_token(
        metadata["revocation_endpoint"], token=refresh_token, token_type_hint="refresh_token"
    )
    try:
        session.refresh_token(metadata["token_endpoint"], refresh_token=refresh_token)
        after = "refreshed"
    except OAuthError as error:
        after = error_code(error)
    emit("signed-out", revocation_status=revoked.status_code, refresh_after_revocation=after)
    loopback.shutdown()
    return 0


def jwt_alg(token):
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"]


if __name__ == "__main__":
    sys.exit(main())
