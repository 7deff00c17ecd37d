"""Authentication of the OneDev stand-in (Shiro's ``authcBasic`` + ``authcBearer`` chain).

* ``OneDevAuthorization`` is read first, ``Authorization`` only when it is absent.
* ``Bearer <t>`` (exact, case-sensitive prefix) and ``token <t>``.
* Basic (scheme case-insensitive): the user part if it is a token, else the password part.
* No credentials: anonymous.  Unknown token / failed Basic login: 401 without a challenge.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from starlette.requests import Request

from epicstar.sandbox.onedev import Principal
from epicstar.sandbox.onedev_data import RestError

if TYPE_CHECKING:
    from epicstar.sandbox.onedev import FakeOneDev

REALM = {"www-authenticate": 'Basic realm="OneDev"'}
AUTH_FAILED = "Invalid account or incorrect credentials"


def authenticate(request: Request, onedev: FakeOneDev) -> Principal | None:
    """Shiro's authcBasic + authcBearer.  None = anonymous; RestError(401) = bad credentials."""
    header = request.headers.get("onedevauthorization")
    if header is None:
        header = request.headers.get("authorization")
    if not header:
        return None
    token: str | None = None
    if header.startswith("Bearer "):
        token = header[len("Bearer ") :].strip()
    elif header.startswith("token "):
        token = header[len("token ") :].strip()
    elif header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise RestError(401, AUTH_FAILED) from None
        user, _, password = decoded.partition(":")
        token = user if user in onedev.principals else password
    else:
        return None
    principal = onedev.principals.get(token)
    if principal is None:
        raise RestError(401, AUTH_FAILED)
    return principal
