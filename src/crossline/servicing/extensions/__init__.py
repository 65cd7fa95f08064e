"""展期 (loan extension): request → offer → accept, within 《贷款通则》 Art. 12 (DOMAIN §5)."""

from crossline.servicing.extensions.service import accept_extension, request_extension

__all__ = ["accept_extension", "request_extension"]
