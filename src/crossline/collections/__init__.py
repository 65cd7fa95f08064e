"""Collections (issue 7, DOMAIN §5): the queue by bucket, contacts the scheduler allows
under the collection rules, promises to pay, and records kept two years."""

from crossline.collections.contacts import record_contact, set_night_consent
from crossline.collections.eligibility import collectible
from crossline.collections.promises import close_promises, record_promise
from crossline.collections.queue import collections_queue
from crossline.collections.retention import purge_contacts, retention_cutoff

__all__ = [
    "close_promises",
    "collectible",
    "collections_queue",
    "purge_contacts",
    "record_contact",
    "record_promise",
    "retention_cutoff",
    "set_night_consent",
]
