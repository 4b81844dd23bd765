"""Slow, obviously-correct reference model of KPIS.md, the oracle of the engine tests."""

from reference.alerts import DEFAULT_RULES, AlertRule
from reference.model import ReferenceEngine

__all__ = ["DEFAULT_RULES", "AlertRule", "ReferenceEngine"]
