"""Security with real SIP: what an anonymous peer can reach, wrong passwords, bans after repeated failures,
control interfaces off loopback, and files nobody else can read."""

from __future__ import annotations

import asyncio
import json
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.pbx.credentials import FILE_NAME
from engine.testcall import CallReport, place_call
from engine.testcall.agent import SippAgent
from tests.pbx.conftest import Pbx
from tests.pbx.harness import Controller, hotline, wait_until

WORK_NUMBER = "7501"
SIP_USER = f"agent-{WORK_NUMBER}"
OUTSIDE_NUMBER = "0085212345678"
# A loopback address of its own (all of 127/8 is loopback on Linux): banning it leaves 127.0.0.1 alone.
ATTACKER_IP = "127.0.0.2"


def _call(pbx: Pbx, dialed: str, **kwargs: Any) -> CallReport:
    kwargs.setdefault("max_call_s", 30)
    return asyncio.run(place_call(target_port=pbx.settings.pbx.sip_port, dialed=dialed, **kwargs))


def _agent(pbx: Pbx) -> dict[str, Any]:
    listed = json.loads(hotline(pbx.config_file, "agent", "list", "--json").stdout)
    if not any(a["work_number"] == WORK_NUMBER for a in listed):
        hotline(pbx.config_file, "agent", "add", WORK_NUMBER, "--name", "安全", "--json")
    account: dict[str, Any] = json.loads(hotline(pbx.config_file, "agent", "passwd", WORK_NUMBER, "--json").stdout)
    return account


def test_anonymous_invites_reach_nothing_but_the_hotline(pbx: Pbx) -> None:
    """An outside number and an agent's work number hear the misdial prompt and are hung up; the agent's
    SIP user, a feature code and the trunk's name are not found (404). No INVITE ever reaches the callback
    trunk or the agent's registered phone."""
    account = _agent(pbx)

    async def scenario() -> tuple[dict[str, CallReport], int, int]:
        async with SippAgent(sip_user=SIP_USER, password=account["password"], target_port=pbx.settings.pbx.sip_port,
                             calls=None) as phone, \
                SippAgent(sip_user="trunk", password="unused", register=False,
                          port=pbx.settings.callback.trunk_port) as trunk:
            assert phone.registered
            reports = {}
            for dialed, caller in ((OUTSIDE_NUMBER, "13900000001"), (WORK_NUMBER, "13900000002"),
                                   (SIP_USER, "13900000003"), ("*1", "13900000004"),
                                   ("hotline-outbound", "13900000005"),
                                   # Pretending to be the trunk changes nothing: it is never identified by name.
                                   (OUTSIDE_NUMBER, "hotline-outbound"), (OUTSIDE_NUMBER, SIP_USER)):
                reports[f"{caller}->{dialed}"] = await place_call(
                    target_port=pbx.settings.pbx.sip_port, dialed=dialed, caller_id=caller, max_call_s=30)
            return reports, phone.calls_offered, trunk.calls_offered

    with pbx.controller():
        reports, to_agent, to_trunk = asyncio.run(scenario())
    misdialled = [f"13900000001->{OUTSIDE_NUMBER}", f"13900000002->{WORK_NUMBER}",
                  f"hotline-outbound->{OUTSIDE_NUMBER}"]
    for key in misdialled:
        report = reports[key]
        assert report.answered and report.ended_by == "hotline", (key, report)
        assert report.audio.voiced_seconds > 1.0, (key, report.audio)  # the misdial prompt, nothing else
    for key in (f"13900000003->{SIP_USER}", "13900000004->*1", "13900000005->hotline-outbound"):
        assert reports[key].status == 404 and not reports[key].answered, (key, reports[key])
    # Using an agent's SIP user as caller id: identified as that agent, so challenged (never served free).
    assert reports[f"{SIP_USER}->{OUTSIDE_NUMBER}"].status == 401, reports[f"{SIP_USER}->{OUTSIDE_NUMBER}"]
    assert to_agent == 0 and to_trunk == 0
    assert "Dial" not in pbx.control.cli("dialplan show hotline-inbound")


def _ban_config(pbx: Pbx, tmp_path: Path) -> Path:
    config = tmp_path / "hotline.toml"
    config.write_text(pbx.config_file.read_text().replace(
        "[pbx]\n", "[pbx]\nsip_ban_failures = 3\nsip_ban_seconds = 8\n", 1))
    return config


def test_wrong_password_refused_and_repeated_failures_ban_the_source(pbx: Pbx, tmp_path: Path) -> None:
    """REGISTER with a wrong password: 401/403. After 3 such failures the source gets 403 for every request
    (even a call to the hotline) while 127.0.0.1 is still served; 8 s later it is served again."""
    _agent(pbx)

    async def fail_three_times() -> list[int | None]:
        async with SippAgent(sip_user=SIP_USER, password="wrong-password", target_port=pbx.settings.pbx.sip_port,
                             local_ip=ATTACKER_IP, register=False) as intruder:
            return [await intruder.register() for _ in range(3)]

    def status_from(ip: str) -> int | None:
        return _call(pbx, pbx.settings.hotline_number, caller_id="13900000010", local_ip=ip,
                     hangup_after_s=0.5).status

    with Controller(_ban_config(pbx, tmp_path), pbx.settings):
        statuses = asyncio.run(fail_three_times())
        assert all(s in (401, 403) for s in statuses), statuses
        wait_until(lambda: status_from(ATTACKER_IP) == 403, 15, "the attacker's address to be refused")
        assert f"deny = {ATTACKER_IP}" in (pbx.control.config_dir / "pjsip-banned.conf").read_text()
        assert status_from("127.0.0.1") == 200
        wait_until(lambda: status_from(ATTACKER_IP) == 200, 30, "the ban to end")


def _non_loopback_addresses() -> list[str]:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout.split()
    return [a for a in out if not a.startswith("127.") and a != "::1"]


def test_control_interfaces_not_reachable_off_loopback(pbx: Pbx) -> None:
    """ARI and AMI answer on 127.0.0.1 and refuse connections on every other address of the machine."""
    addresses = _non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback address")
    for port in (pbx.settings.pbx.ari_port, pbx.settings.pbx.ami_port):
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        for address in addresses:
            with pytest.raises(OSError):
                socket.create_connection((address, port), timeout=2).close()


def _readable_by_nobody(paths: list[Path]) -> list[Path]:
    """The paths user `nobody` can open for reading (through every folder above them)."""
    readable = []
    for path in paths:
        probe = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                "head", "-c1", str(path)], capture_output=True, check=False)
        if probe.returncode == 0:
            readable.append(path)
    return readable


def test_no_file_readable_by_other_users(pbx: Pbx) -> None:
    """A message left on the fallback path (no controller) is 0600 the moment Asterisk writes it; after a
    controller ran, nothing under the data folder, the recordings folder, the CDR folder or the instance's
    config (credentials) can be read by another user, and what the hotline and Asterisk wrote is 0600."""
    report = _call(pbx, pbx.settings.hotline_number, caller_id="13900000020", first_key_delay_s=16.0,
                   speak=True, hangup_after_s=19, max_call_s=40)
    assert report.answered, report
    layout = pbx.control.layout
    message = layout.recordings_dir
    files = sorted(message.glob("fallback-*.wav"))
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)

    with pbx.controller():
        wait_until(lambda: (pbx.settings.data_dir / "live-status.json").exists(), 15, "the live status")
    folders = [pbx.settings.data_dir, layout.recordings_dir, layout.fallback_cdr_file.parent, layout.config_dir]
    everything = [p for folder in folders for p in folder.rglob("*") if p.is_file()]
    assert len(everything) > 10
    assert _readable_by_nobody(everything) == []
    assert stat.S_IMODE(pbx.settings.data_dir.stat().st_mode) == 0o700
    written = [pbx.control.config_dir / FILE_NAME, layout.fallback_cdr_file, *layout.recordings_dir.iterdir(),
               *(pbx.settings.data_dir / n for n in ("hotline.db", "live-status.json", "fallback-cdr.offset"))]
    loose = [p for p in written if p.exists() and stat.S_IMODE(p.stat().st_mode) != 0o600]
    assert loose == []
