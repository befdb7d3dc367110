"""Tests of the naturalisation readiness rules (§ 10 StAG)."""
