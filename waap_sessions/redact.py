"""Secrets inside settings that are not secrets themselves: URLs and connection strings.

A base URL, a catalog or a data path is shown in the UI, printed in reprs and quoted in
errors, so one that carries a credential (`https://user:pw@host`, `?token=...`,
`md:lake?motherduck_token=...`, a libpq `password=...`) would leak it. The settings refuse
such values (`check_base_url`, `credential_in`), and a refusal quotes the value only
through `mask`. Plain `re` only: a code location checks its settings when it loads.
"""

from __future__ import annotations

import re

MASK = "***"
# `scheme://user:password@` or `scheme://user@`: everything between `//` and `@`.
_USERINFO = re.compile(r"//[^/@\s'\"]*@")
# Every value of a URL query: a base URL has none, and a token may hide under any name.
_QUERY_VALUE = re.compile(r"([?&][^=&#\s'\"]+=)[^&#\s'\"]*")
# A fragment: tokens travel there too (`#access_token=...`).
_FRAGMENT = re.compile(r"#[^\s'\"]*")
# A `name=value` whose name says it holds a secret: libpq's `password=` and
# `sslpassword=`, MotherDuck's `motherduck_token=`, S3's `X-Amz-Signature=`, an `api_key=`.
_SECRET_NAME = r"[\w.-]*(?:pass(?:word)?|pwd|secret|token|api[_-]?key|signature|sig)[\w.-]*"  # noqa: S105
_SECRET_PARAMETER = re.compile(rf"(?<![\w.-])({_SECRET_NAME}\s*=\s*)[^\s&#'\"]+", re.IGNORECASE)
# A password in a URL's userinfo: `//user:password@`.
_USERINFO_PASSWORD = re.compile(r"//[^/@\s:]*:[^/@\s]*@")
# A base URL: scheme, host, optional port and path; no userinfo, query or fragment.
_BASE_URL = re.compile(r"^https?://[^\s/@?#]+(/[^\s@?#]*)?$")


def mask(text: str) -> str:
    """`text` with every credential a URL or connection string can carry (userinfo, query
    values, fragment, secret parameters) replaced by ***.

    mask("https://u:pw@host/x?token=abc")  # 'https://***@host/x?token=***'
    """
    text = _USERINFO.sub(f"//{MASK}@", text)
    text = _FRAGMENT.sub(f"#{MASK}", text)
    text = _QUERY_VALUE.sub(rf"\1{MASK}", text)
    return _SECRET_PARAMETER.sub(rf"\1{MASK}", text)


def credential_in(value: str) -> str | None:
    """What credential `value` carries, said without quoting it, or None when it has none."""
    if _USERINFO_PASSWORD.search(value):
        return "a password (user:password@)"
    if match := _SECRET_PARAMETER.search(value):
        name = match.group(1).split("=")[0].strip()
        return f"a secret parameter ({name}=)"
    return None


def check_base_url(value: str) -> str:
    """`value` if it is a plain API base URL, else ValueError saying the rule (not the value).

    No user:password@, query or fragment: a base URL is shown and logged, and the clients
    send their credentials in headers.
    """
    if not _BASE_URL.match(value):
        raise ValueError(
            "must be http(s)://host[:port][/path], without user:password@, query or fragment"
        )
    return value
