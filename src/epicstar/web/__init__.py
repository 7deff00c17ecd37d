"""The HTTP service: health and readiness, GitHub's webhooks (more routes to come)."""

from epicstar.web.app import create_app, default_identity
from epicstar.web.identity import FixedIdentity, GitHubTokenIdentity, WebhookIdentity
from epicstar.web.webhooks import MAX_BODY_BYTES, WebhookReceiver

__all__ = [
    "MAX_BODY_BYTES",
    "FixedIdentity",
    "GitHubTokenIdentity",
    "WebhookIdentity",
    "WebhookReceiver",
    "create_app",
    "default_identity",
]
