"""Agent provisioning against the real PBX: `hotline agent add` gives an account a softphone can register
with at once, a wrong password is refused, and `hotline agent remove` takes the account away, all by
reloading res_pjsip, never by restarting Asterisk."""

from __future__ import annotations

import asyncio
import json

from engine.testcall.agent import AgentEvent, SippAgent
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, wait_until

WORK_NUMBER = "7301"  # unusual, so other tests of the session can have their own agents
SIP_USER = f"agent-{WORK_NUMBER}"


def _uptime_s(pbx: Pbx) -> int:
    return int(pbx.control.cli("core show uptime seconds").split("System uptime:")[1].split()[0])


def _contacts(pbx: Pbx) -> str:
    return pbx.control.cli("pjsip show contacts")


def test_added_agent_registers_wrong_password_is_refused_removed_agent_is_gone(pbx: Pbx) -> None:
    """Add, register (contact qualified), wrong password (401), new password (old registration dropped),
    remove (endpoint and contact gone)."""
    uptime_before = _uptime_s(pbx)
    account = json.loads(hotline(pbx.config_file, "agent", "add", WORK_NUMBER, "--name", "测试员",
                                 "--skills", "billing", "--json").stdout)
    assert account["sip_user"] == SIP_USER and account["pbx_reloaded"] is True
    assert SIP_USER in pbx.control.cli(f"pjsip show endpoint {SIP_USER}")
    host, port = str(account["sip_server"]).split(":")

    async def scenario() -> None:
        async with SippAgent(sip_user=SIP_USER, password=account["password"], target_host=host,
                             target_port=int(port)) as agent:
            assert agent.registered and agent.register_status == 200
            wait_until(lambda: f"{SIP_USER}/sip:{SIP_USER}@127.0.0.1:{agent.port}" in _contacts(pbx), 10,
                       "the agent's contact")
            await agent.wait_for(AgentEvent.OPTIONS, timeout_s=20)  # qualify reaches the softphone
            wait_until(lambda: "Avail" in _contacts(pbx), 10, "the contact to be qualified available")

            async with SippAgent(sip_user=SIP_USER, password="WrongPassword12345678",
                                 target_host=host, target_port=int(port)) as intruder:
                assert not intruder.registered and intruder.register_status in (401, 403)

            # A new password drops the current registration; only the new password registers again.
            renewed = json.loads(hotline(pbx.config_file, "agent", "passwd", WORK_NUMBER, "--json").stdout)
            wait_until(lambda: SIP_USER not in _contacts(pbx), 10, "the registration to be dropped")
            assert await agent.register() != 200
            async with SippAgent(sip_user=SIP_USER, password=renewed["password"], target_host=host,
                                 target_port=int(port)) as renewed_agent:
                assert renewed_agent.registered
                wait_until(lambda: f"@127.0.0.1:{renewed_agent.port}" in _contacts(pbx), 10, "the new contact")

                hotline(pbx.config_file, "agent", "remove", WORK_NUMBER, "--yes")
                wait_until(lambda: "Unable to find object" in pbx.control.cli(f"pjsip show endpoint {SIP_USER}"),
                           10, "the endpoint to disappear")
                wait_until(lambda: SIP_USER not in _contacts(pbx), 10, "the contact to disappear")
                # The credentials are worthless now.
                assert await renewed_agent.register() != 200

    asyncio.run(scenario())
    assert _uptime_s(pbx) >= uptime_before, "Asterisk restarted"
