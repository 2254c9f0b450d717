"""The WAAP's verdict on one request, decided from the request, as a real firewall decides.

Rules run in the order a WAAP runs them (Gcore's documentation, "WAAP rules": IP
reputation and bot protection first, then the request inspection of the managed OWASP
policies, then custom rules):
1. an IP with a bad reputation is refused on every request, whatever it asks;
2. a crawler from its operator's published range is allowed; one claiming to be a crawler
   from elsewhere is a fake and refused;
3. a client whose User-Agent and TLS handshake disagree gets the anti-bot challenge,
   a headless browser or a script fetching pages is refused as automated;
4. a payload (SQL injection, XSS, traversal, code execution, a sensitive file) is refused
   by the rule for its class, so the rule always fits the path;
5. repeated logins in one session get a captcha; API calls too fast for a person hit the
   rate limit.

A domain in monitor mode detects exactly the same, but lets every request through: its
decision is `monitored`, its result `suppressed`, and the origin answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from waap_sessions.simulator import catalog
from waap_sessions.simulator.catalog import PayloadClass, Rule, SessionKind

LOGINS_BEFORE_CAPTCHA = 3
# More API calls than this within RATE_WINDOW_MS of one session trip the rate limit.
RATE_LIMIT_CALLS = 10
RATE_WINDOW_MS = 5_000


@dataclass(frozen=True)
class Request:
    """What the firewall sees of one request and the session it belongs to."""

    kind: SessionKind  # "crawler" only from its operator's published range
    client_name: str
    bad_reputation: bool
    monitor_mode: bool
    path: str
    method: str
    payload: PayloadClass
    logins_so_far: int  # POST /login earlier in the session
    api_calls_in_window: int  # API calls in the session's last RATE_WINDOW_MS, this one included


@dataclass(frozen=True)
class Verdict:
    """The rule that fired (if any) and what the WAAP did."""

    rule: Rule | None
    decision: str  # passed, allowed, monitored or blocked
    optional_action: str  # captcha, challenge or ""

    @property
    def detected(self) -> bool:
        """A rule that refuses fired, whether the domain then blocked or only monitored."""
        return self.rule is not None and self.rule.action != "allow"


def fired_rule(request: Request) -> Rule | None:
    """The first rule that matches the request, in the WAAP's order."""
    if request.bad_reputation:
        return catalog.RULE_BAD_REPUTATION
    if request.kind == "crawler":
        return catalog.RULE_ALLOW_CRAWLERS
    if request.kind == "spoofer":
        return (
            catalog.RULE_FAKE_CRAWLER
            if request.client_name == "Googlebot"
            else catalog.RULE_CHALLENGE
        )
    if request.kind == "tool" and (
        request.client_name == "HeadlessChrome" or not request.path.startswith("/api/")
    ):
        return catalog.RULE_AUTOMATED
    if request.payload == "login":
        return (
            catalog.RULE_LOGIN_CAPTCHA if request.logins_so_far >= LOGINS_BEFORE_CAPTCHA else None
        )
    if request.payload != "none":
        return catalog.PAYLOAD_RULES[request.payload]
    if request.path.startswith("/api/") and request.api_calls_in_window > RATE_LIMIT_CALLS:
        return catalog.RULE_RATE
    return None


def verdict(request: Request) -> Verdict:
    """The decision the WAAP takes on the request."""
    rule = fired_rule(request)
    if rule is None:
        return Verdict(None, "passed", "")
    if rule.action == "allow":
        return Verdict(rule, "allowed", "")
    if request.monitor_mode:
        return Verdict(rule, "monitored", "")
    optional = {"captcha": "captcha", "handshake": "challenge"}.get(rule.action, "")
    return Verdict(rule, "blocked", optional)
