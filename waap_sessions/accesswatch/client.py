"""Access Watch client: the current sessions, one snapshot per call.

`GET /sessions` takes `limit` and nothing else (no cursor, no time filter), so history
comes from keeping snapshots, which is the assets' job.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter

from waap_sessions.accesswatch import ACCESSWATCH_BASE_URL, MAX_SESSIONS
from waap_sessions.accesswatch.models import Session, SessionsResponse
from waap_sessions.http_core import HeaderAuth, HttpClient, HttpSettings, VendorClient
from waap_sessions.models import require_secret, validate_parameters

SESSIONS_PATH = "/sessions"

_SESSIONS_RESPONSE = TypeAdapter(SessionsResponse)


class SessionsQuery(BaseModel):
    """`limit` is documented as an int; a count of sessions from 1 to the API's 1,000."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(gt=0, le=MAX_SESSIONS)


class AccessWatchClient(VendorClient):
    """A plain Access Watch API client (no Dagster inside); close it, or use it with `with`.

    The current sessions, each with its identity and reputation:

        with AccessWatchClient(os.environ["ACCESSWATCH_API_KEY"]) as client:
            for session in client.get_sessions(limit=50):
                print(session.id, session.count, session.reputation.status)
    """

    def __init__(self, api_key: str | SecretStr, settings: HttpSettings | None = None) -> None:
        secret = require_secret(api_key, "Access Watch settings", "api_key")
        super().__init__(
            HttpClient(
                settings or HttpSettings(base_url=ACCESSWATCH_BASE_URL),
                vendor="Access Watch",
                # The header, not the `api_key` query parameter, so the key stays out of URLs.
                auth=HeaderAuth("Api-Key", secret),
            )
        )

    def get_sessions(self, limit: int = 100) -> list[Session]:
        """The current sessions, at most `limit` of them."""
        query = validate_parameters(SessionsQuery, {"limit": limit}, "Access Watch sessions")
        return self.get(SESSIONS_PATH, _SESSIONS_RESPONSE, params=query.model_dump()).sessions
