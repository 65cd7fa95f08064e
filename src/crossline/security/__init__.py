"""Security: who is calling (API keys, users, sessions), PII at rest, and the audit log.

The HTTP API calls this layer; it holds no HTTP. Every function works inside
the caller's transaction, so a refused request writes nothing.
"""

from crossline.security.api_keys import authenticate_api_key, create_api_key, revoke_api_key
from crossline.security.audit import AuditCheck, record, verify
from crossline.security.identities import (
    Identity,
    find_by_national_id,
    read_identity,
    save_identity,
)
from crossline.security.national_ids import RedactNationalIds, redact, validate_national_id
from crossline.security.pii import PiiCipher, PiiDecryptionError, PiiKeyError, generate_key
from crossline.security.principals import Principal, Role
from crossline.security.sessions import authenticate_session, log_in, log_out
from crossline.security.users import create_user

__all__ = [
    "AuditCheck",
    "Identity",
    "PiiCipher",
    "PiiDecryptionError",
    "PiiKeyError",
    "Principal",
    "RedactNationalIds",
    "Role",
    "authenticate_api_key",
    "authenticate_session",
    "create_api_key",
    "create_user",
    "find_by_national_id",
    "generate_key",
    "log_in",
    "log_out",
    "read_identity",
    "record",
    "redact",
    "revoke_api_key",
    "save_identity",
    "validate_national_id",
    "verify",
]
