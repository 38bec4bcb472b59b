"""Names the PBX tests import (the fixtures themselves are in tests/conftest.py, shared with tests/chaos)."""

from tests.pbx.session import SHIPPED_FLOWS, SHIPPED_QUEUES, Pbx, write_test_flows, write_test_queues

__all__ = ["SHIPPED_FLOWS", "SHIPPED_QUEUES", "Pbx", "write_test_flows", "write_test_queues"]
