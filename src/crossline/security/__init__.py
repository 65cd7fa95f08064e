"""Security: who is calling (API keys, users, sessions).

The HTTP API calls this layer; it holds no HTTP. Every function works inside
the caller's transaction, so a refused request writes nothing.
"""

from crossline.security.api_keys import authenticate_api_key, create_api_key, revoke_api_key
from crossline.security.principals import Principal, Role
from crossline.security.sessions import authenticate_session, log_in, log_out
from crossline.security.users import create_user

__all__ = [
    "Principal",
    "Role",
    "authenticate_api_key",
    "authenticate_session",
    "create_api_key",
    "create_user",
    "log_in",
    "log_out",
    "revoke_api_key",
]
