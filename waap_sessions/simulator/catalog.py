"""Static reference tables the traffic generator draws from: countries, clients, rules, paths.

Plain data, no logic, so the generator in `dataset.py` reads as a story and the tables
can grow without touching it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SessionKind = Literal["browser", "crawler", "tool", "attacker"]


@dataclass(frozen=True)
class Country:
    """A country with its traffic weight, centroid (for Appgate) and a home ISP."""

    code: str
    weight: float
    latitude: float
    longitude: float
    continent: str
    language: str
    isp: str
    asn: int


COUNTRIES: tuple[Country, ...] = (
    Country("US", 22, 37.751, -97.822, "NA", "en", "Comcast Cable Communications", 7922),
    Country("DE", 9, 51.2993, 9.491, "EU", "de", "Deutsche Telekom AG", 3320),
    Country("GB", 6, 51.4964, -0.1224, "EU", "en", "British Telecommunications PLC", 2856),
    Country("FR", 5, 48.8582, 2.3387, "EU", "fr", "Orange S.A.", 3215),
    Country("NL", 3, 52.3824, 4.8995, "EU", "nl", "KPN B.V.", 1136),
    Country("IN", 6, 20.0, 77.0, "AS", "hi", "Bharti Airtel Ltd.", 9498),
    Country("CN", 5, 34.7732, 113.722, "AS", "zh", "China Telecom", 4134),
    Country("JP", 4, 35.69, 139.69, "AS", "ja", "NTT Communications", 4713),
    Country("BR", 4, -22.8305, -43.2192, "SA", "pt", "Claro S.A.", 28573),
    Country("RU", 3, 55.7386, 37.6068, "EU", "ru", "Rostelecom", 12389),
    Country("CA", 3, 43.6319, -79.3716, "NA", "en", "Bell Canada", 577),
    Country("AU", 2, -33.494, 143.2104, "OC", "en", "Telstra Corporation", 1221),
    Country("ES", 2, 40.4172, -3.684, "EU", "es", "Telefonica de Espana", 3352),
    Country("IT", 2, 45.4722, 9.1922, "EU", "it", "Telecom Italia", 3269),
    Country("PL", 2, 52.2394, 21.0362, "EU", "pl", "Orange Polska", 5617),
    Country("SE", 1.5, 55.8667, 12.8333, "EU", "sv", "Telia Company AB", 3301),
    Country("KR", 1.5, 37.5112, 126.9741, "AS", "ko", "Korea Telecom", 4766),
    Country("SG", 1.5, 1.2929, 103.8547, "AS", "en", "Singtel", 7473),
    Country("MY", 1, 3.1412, 101.6865, "AS", "ms", "TM Net", 4788),
    Country("ID", 1.5, -6.1728, 106.8272, "AS", "id", "Telkom Indonesia", 7713),
    Country("VN", 1.5, 10.8142, 106.6438, "AS", "vi", "Viettel Group", 7552),
    Country("TR", 1, 41.0214, 28.9948, "AS", "tr", "Turk Telekom", 9121),
    Country("UA", 1, 50.4522, 30.5287, "EU", "uk", "Kyivstar", 15895),
    Country("MX", 1, 19.4285, -99.1277, "NA", "es", "Telmex", 8151),
    Country("AR", 0.8, -34.6022, -58.3845, "SA", "es", "Telecom Argentina", 7303),
    Country("ZA", 0.8, -26.2309, 28.0583, "AF", "en", "Vodacom", 29975),
    Country("NG", 0.6, 6.4474, 3.3903, "AF", "en", "MTN Nigeria", 29465),
    Country("EG", 0.6, 30.0355, 31.2230, "AF", "ar", "Telecom Egypt", 8452),
    Country("IR", 0.5, 35.698, 51.4115, "AS", "fa", "Iran Telecommunication Company", 58224),
    Country("CH", 0.8, 47.1449, 8.1551, "EU", "de", "Swisscom", 3303),
    Country("IL", 0.5, 32.0803, 34.7805, "AS", "he", "Bezeq International", 8551),
    Country("SA", 0.5, 24.6537, 46.7152, "AS", "ar", "Saudi Telecom Company", 25019),
)


@dataclass(frozen=True)
class Cloud:
    """A hosting network that bots and attack tools run from."""

    organization: str
    asn: int
    country: str


CLOUDS: tuple[Cloud, ...] = (
    Cloud("Amazon.com, Inc.", 16509, "US"),
    Cloud("Google LLC", 396982, "US"),
    Cloud("DigitalOcean, LLC", 14061, "US"),
    Cloud("OVH SAS", 16276, "FR"),
    Cloud("Hetzner Online GmbH", 24940, "DE"),
    Cloud("Alibaba (US) Technology Co., Ltd.", 45102, "CN"),
    Cloud("Contabo GmbH", 51167, "DE"),
)


@dataclass(frozen=True)
class Client:
    """A user agent as the firewall parses it, with the TLS fingerprints it tends to send."""

    kind: SessionKind
    name: str  # Gcore `user_agent_client`
    user_agent: str
    device: str  # hidden `user_agent_device` used by the device filters
    system: str
    version: str
    ja3: str  # "" when the TLS handshake gave none
    ja4: str
    weight: float


_CHROME_JA3 = "cd08e31494f9531f560d64c695473da9"
_CHROME_JA4 = "t13d1516h2_8daaf6152771_02713d6af862"

# fmt: off
CLIENTS: tuple[Client, ...] = (
    Client(
        "browser", "Chrome",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Other", "Windows", "131.0.0.0", _CHROME_JA3, _CHROME_JA4, 30,
    ),
    Client(
        "browser", "Chrome Mobile",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.6778.81 Mobile Safari/537.36",
        "Pixel 8", "Android", "131.0.6778.81", "b32309a26951912be7dba376398abc3b",
        "t13d1516h2_8daaf6152771_e5627efa2ab1", 14,
    ),
    Client(
        "browser", "Firefox",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Other", "Linux", "133.0", "579ccef312d18482fc42e2b822ca2430",
        "t13d1715h2_5b57614c22b0_3d5424432f57", 8,
    ),
    Client(
        "browser", "Safari",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        "Mac", "Mac OS X", "18.1", "773906b0efdefa24a7f2b8eb6985bf37",
        "t13d2014h2_a09f3c656075_14788d8d241b", 9,
    ),
    Client(
        "browser", "Mobile Safari",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "iPhone", "iOS", "18.1", "773906b0efdefa24a7f2b8eb6985bf37",
        "t13d2014h2_a09f3c656075_14788d8d241b", 12,
    ),
    Client(
        "browser", "Edge",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70",
        "Other", "Windows", "131.0.2903.70", _CHROME_JA3, _CHROME_JA4, 6,
    ),
    Client(
        "browser", "Samsung Internet",
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        "Samsung SM-S911B", "Android", "26.0", "b32309a26951912be7dba376398abc3b",
        "t13d1516h2_8daaf6152771_e5627efa2ab1", 3,
    ),
    Client(
        "browser", "Opera",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
        "Other", "Windows", "115.0.0.0", _CHROME_JA3, _CHROME_JA4, 1.5,
    ),
    Client(
        "browser", "Chromium",
        "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chromium/94.0.4606.31 Chrome/94.0.4606.31 TV Safari/537.36",
        "SMART TV", "Tizen", "94.0.4606.31", "", "t12d1209h2_d34a8e72043a_b39be8c56a14", 0.5,
    ),
    Client(
        "crawler", "Googlebot",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Spider", "Other", "2.1", "e7d705a3286e19ea42f587b344ee6865",
        "t13d1011h2_61a7ad8aa9b6_3fcd1a44f3e3", 5,
    ),
    Client(
        "crawler", "bingbot",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Spider", "Other", "2.0", "3b5074b1b5d032e5620f69f9f700ff0e",
        "t13d1311h2_e8f1e7e78f70_ce5650b735ce", 3,
    ),
    Client(
        "crawler", "OpenAI GPTBot",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        "Spider", "Other", "1.2", "6734f37431670b3ab4292b8f60f29984",
        "t13d3113h2_e8f1e7e78f70_ce5650b735ce", 2,
    ),
    Client(
        "crawler", "Uptimerobot",
        "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        "Spider", "Other", "2.0", "", "t12d0907h1_76e208dd3e22_d1a1e1f9c2b4", 1,
    ),
    Client(
        "tool", "Python Requests", "python-requests/2.32.3",
        "Other", "Other", "2.32.3", "8d9f7747675e24454cd9b7ed35c58707",
        "t13d1812h1_85036bcba153_b26ce05bbdd6", 5,
    ),
    Client(
        "tool", "curl", "curl/8.5.0",
        "Other", "Linux", "8.5.0", "456523fc94726331a4d5a2e1d40b2cd7",
        "t13d3112h1_e8f1e7e78f70_6bebaf5329ec", 3,
    ),
    Client(
        "tool", "Go-http-client", "Go-http-client/1.1",
        "Other", "Other", "1.1", "c65fcec1b7e7b115c8a2e036cf8d8f78",
        "t13d1310h1_f57a46bbacb6_d3a8d3bb0d3a", 2,
    ),
    Client(
        "tool", "Wget", "Wget/1.21.4",
        "Other", "Linux", "1.21.4", "", "t12d4605h1_cd4d8f6aa7f0_4d6c4ad3d1ef", 1,
    ),
    Client(
        "attacker", "sqlmap", "sqlmap/1.8.11#stable (https://sqlmap.org)",
        "Other", "Other", "1.8.11", "8d9f7747675e24454cd9b7ed35c58707",
        "t13d1812h1_85036bcba153_b26ce05bbdd6", 2,
    ),
    Client(
        "attacker", "Nikto",
        "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000562)",
        "Other", "Other", "2.5.0", "19e29534fd49dd27d09234e639c4057e",
        "t12d2112h1_d1c3a6e1a8b0_0f2cb44170f4", 1,
    ),
    Client(
        "attacker", "Chrome",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        "Other", "Windows", "120.0.0.0", "2b1fd2b4b8d5e5a8e36a5a5bd6ba2e6a",
        "t13d1812h1_85036bcba153_b26ce05bbdd6", 3,
    ),
)


# fmt: on


@dataclass(frozen=True)
class Rule:
    """A WAAP rule that can fire on a request, with the tag it puts on the request."""

    rule_id: str
    name: str
    action: str
    tag: str


RULE_ALLOW_CRAWLERS = Rule("S1001", "Allow verified search engines", "allow", "goodbot")
RULE_AUTOMATED = Rule("S2010", "Automated clients", "block", "automatedclient")
RULE_CHALLENGE = Rule("S2011", "Anti-bot challenge", "handshake", "evasiveclient")
RULE_CAPTCHA = Rule("C3001", "Login captcha", "captcha", "bruteforce")
RULE_RATE = Rule("C3002", "Rate limit /api", "block", "ratelimited")
ATTACK_RULES: tuple[Rule, ...] = (
    Rule("S4001", "SQL injection", "block", "injectionattack"),
    Rule("S4002", "XSS", "block", "xssattack"),
    Rule("S4003", "Path traversal", "block", "pathtraversal"),
    Rule("S4004", "Remote code execution", "block", "rceattack"),
    Rule("S4005", "Sensitive file access", "block", "scanner"),
    Rule("S4006", "Bad reputation IP", "block", "badreputation"),
)

BROWSER_PATHS: tuple[str, ...] = (
    "/",
    "/products",
    "/products/{n}",
    "/products/{n}/reviews",
    "/cart",
    "/checkout",
    "/search",
    "/login",
    "/account/profile",
    "/users/{n}/profile",
    "/api/v1/items",
    "/api/v1/items/{n}",
    "/static/app.js",
    "/static/style.css",
    "/images/{n}.jpg",
    "/favicon.ico",
    "/blog",
    "/blog/{n}",
)
CRAWLER_PATHS: tuple[str, ...] = (
    "/",
    "/robots.txt",
    "/sitemap.xml",
    "/products/{n}",
    "/blog/{n}",
    "/products",
)
TOOL_PATHS: tuple[str, ...] = ("/api/v1/items", "/api/v1/items/{n}", "/products/{n}", "/")
ATTACK_PATHS: tuple[str, ...] = (
    "/wp-login.php",
    "/.env",
    "/.git/config",
    "/admin/config.php",
    "/phpmyadmin/index.php",
    "/products/{n}'%20OR%201=1--",
    "/search/%3Cscript%3Ealert(1)%3C/script%3E",
    "/static/..%2f..%2fetc%2fpasswd",
    "/cgi-bin/test.cgi",
    "/login",
)
ORDINARY_STATUS_CODES: tuple[tuple[int, float], ...] = (
    (200, 80),
    (304, 8),
    (301, 2),
    (302, 1),
    (404, 6),
    (499, 1),
    (500, 1),
    (502, 0.5),
)

# Appgate clients in use, with the controller's support status for each.
APPGATE_CLIENT_VERSIONS: tuple[tuple[str, str, float], ...] = (
    ("6.4.2-release-3210", "full", 45),
    ("6.3.1-release-1234", "full", 25),
    ("6.2.0-release-987", "partial", 18),
    ("6.0.3-release-555", "partial", 8),
    ("5.5.4-release-321", "none", 4),
)

ACCESSWATCH_THREATS: tuple[str, ...] = (
    "suspicious_scan",
    "comment_spam",
    "referer_spam",
    "brute_force_login",
)
