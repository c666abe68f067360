"""Which flows the proxy holds until they are in the case: those a responder must not lose.

A flow that carried a credential (by the names the detectors use: ``Authorization``, a cookie, an
API-key or token header, a key or token query parameter) or that hit an enforced decision (a 403
from the blocklist) is *urgent*: its response is released only once the writer process has
committed it, so a proxy killed right after answering cannot lose the last use of a key. The test
is on names only (cheap, on the event loop); the detectors decide later what the values are.
"""

from __future__ import annotations

from typing import Final

from discovery.models import Headers
from discovery.redact.credentials.config import DetectorConfig, site_config, squash
from discovery.wire.paths import query_pairs, split_target

# what --set irc_durable=... accepts
DURABLE_MODES: Final = ("credentials", "all", "none")
_ALWAYS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})


def carries_credential(headers: Headers, target: str, config: DetectorConfig | None = None) -> bool:
    """Whether a request's header or query names say it may carry a credential."""
    config = config or site_config()
    for name, _value in headers:
        lower = name.lower()
        if lower in _ALWAYS or config.is_api_key_header(name):
            return True
        if config.maybe_credential_header(name):
            return True
    query = split_target(target)[1]
    if query:
        for name, _value in query_pairs(query):
            squashed = squash(name)
            if squashed in config.strong_query_params or squashed in config.weak_query_params:
                return True
    return False


def urgent(mode: str, *, blocked: bool, headers: Headers, target: str) -> bool:
    """Whether a flow's response waits for its commit under the durability ``mode``."""
    if mode == "all":
        return True
    if mode == "none":
        return False
    return blocked or carries_credential(headers, target)
