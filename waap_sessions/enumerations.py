"""The values the vendors document for their enumerated fields, in one place.

The response models count a value outside these as schema drift and load it anyway (see
`waap_sessions.models.Documented`); the warning checks judge the stored columns against
the same tuples. Plain constants, so the checks can read them without loading a client.
"""

# Gcore request analytics (`api/NOTES.md` and Gcore's published schema).
GCORE_DECISIONS = ("passed", "allowed", "monitored", "blocked", "")
GCORE_OPTIONAL_ACTIONS = ("captcha", "challenge", "")
GCORE_RESULTS = ("passed", "blocked", "suppressed", "")
# Gcore domains (`SummaryDomainResponse.status`).
GCORE_DOMAIN_STATUSES = ("active", "bypass", "monitor", "locked")
# Access Watch: identity types (or null) and reputation statuses.
ACCESSWATCH_IDENTITY_TYPES = ("robot", "browser")
ACCESSWATCH_REPUTATION_STATUSES = ("nice", "ok", "suspicious", "bad")
# Appgate's dashboard: client support statuses, as its documentation shows them.
APPGATE_SUPPORT_STATUSES = ("full", "partial", "none")
