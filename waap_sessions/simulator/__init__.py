"""A local simulator of the four session APIs: the demo's default backend and the tests' backbone.

One deterministic data set (`Dataset`) lies behind Gcore WAAP request analytics, IP Spotlight
and domains and Access Watch sessions; a company's workforce (`workforce.py`) behind the
Appgate SDP active-sessions dashboard. All four are served on one loopback port
(`Simulator`) with injectable faults (`Faults`).
"""

from waap_sessions.simulator.config import SimulatorConfig
from waap_sessions.simulator.dataset import Dataset
from waap_sessions.simulator.faults import Faults, ScriptedFault
from waap_sessions.simulator.server import LoggedRequest, Simulator

__all__ = ["Dataset", "Faults", "LoggedRequest", "ScriptedFault", "Simulator", "SimulatorConfig"]
