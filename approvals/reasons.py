"""Reason codes of four-eyes approvals: the same strings in the API, the admin and the docs."""

NO_CHANGE = "no_change"  # 409: the change is already in effect (nothing to request)
NOT_LOOSENING = "not_loosening"  # 400: the change does not loosen anything; make it directly
SELF_APPROVAL = "self_approval"  # 409: the requester approving their own request
ALREADY_APPROVED = "already_approved"  # 409: the same operator approving the same revision twice
NOT_PENDING = "not_pending"  # 409: the request was applied or rejected already
EXPIRED = "expired"  # 409: the request is past its expiry
NOT_APPROVED = "not_approved"  # 409: applying without the approvals required
STALE_CHANGE = "stale_change"  # 409: what the request changes has changed since it was made
NOT_REQUESTER = "not_requester"  # 409: only the requester edits a request
BYPASS_NOT_PERMITTED = "bypass_not_permitted"  # 409: emergency bypass without the permission
