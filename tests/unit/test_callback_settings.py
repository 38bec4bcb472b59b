"""Callback settings (file and HOTLINE_CALLBACK_* environment) and the outbound trunk they render.

The trunk is the only way out of the PBX, so these checks pin that it exists only when configured, that
nothing in the dialplan routes to it, and that a bad host or calling window is one clear settings error.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest

from engine.errors import SettingsError
from engine.pbx.credentials import PbxCredentials
from engine.pbx.render import render_config
from engine.settings import load_settings

CREDS = PbxCredentials("hotline", "ari-pass-xyz", "hotline", "ami-pass-xyz")


def test_callbacks_are_off_by_default() -> None:
    callback = load_settings(environ={}).callback
    assert not callback.enabled and callback.trunk_contact is None
    assert (callback.trunk_port, callback.max_attempts, callback.retry_after_s, callback.ring_timeout_s) == (
        5060, 3, 300, 30)
    assert (callback.window_opens, callback.window_closes) == (time(8, 0), time(21, 0))


def test_environment_sets_the_nested_callback_fields() -> None:
    s = load_settings(environ={"HOTLINE_CALLBACK_TRUNK_HOST": "sbc.example.net", "HOTLINE_CALLBACK_TRUNK_PORT": "5080",
                               "HOTLINE_CALLBACK_MAX_ATTEMPTS": "5", "HOTLINE_CALLBACK_WINDOW_END": "20:30",
                               "HOTLINE_PBX_SIP_PORT": "5070"})
    assert s.callback.enabled and s.callback.trunk_contact == "sbc.example.net:5080"
    assert s.callback.max_attempts == 5 and s.callback.window_closes == time(20, 30)
    assert s.pbx.sip_port == 5070


def test_file_section_and_ipv6_contact(tmp_path: Path) -> None:
    f = tmp_path / "h.toml"
    f.write_text('[callback]\ntrunk_host = "2001:db8::10"\nretry_after_s = 120\n')
    s = load_settings(f, environ={})
    assert s.callback.trunk_contact == "[2001:db8::10]:5060" and s.callback.retry_after_s == 120


def test_unknown_callback_variable_lists_the_known_ones() -> None:
    with pytest.raises(SettingsError, match="unknown setting HOTLINE_CALLBACK_TRUNK in the environment") as caught:
        load_settings(environ={"HOTLINE_CALLBACK_TRUNK": "10.0.0.1"})
    assert "HOTLINE_CALLBACK_TRUNK_HOST" in str(caught.value) and "HOTLINE_PBX_SIP_PORT" in str(caught.value)


@pytest.mark.parametrize(("env", "message"), [
    ({"HOTLINE_CALLBACK_WINDOW_START": "22:00", "HOTLINE_CALLBACK_WINDOW_END": "06:00"},
     "bad value for setting 'callback'.*across midnight is not allowed"),
    ({"HOTLINE_CALLBACK_WINDOW_START": "09:00", "HOTLINE_CALLBACK_WINDOW_END": "09:00"}, "must be before"),
    ({"HOTLINE_CALLBACK_WINDOW_START": "8:00"}, "'callback.window_start'.*HH:MM"),
    ({"HOTLINE_CALLBACK_WINDOW_END": "24:00"}, "'callback.window_end'.*HH:MM"),
    ({"HOTLINE_CALLBACK_TRUNK_HOST": "10.0.0.1\n[evil]"}, "'callback.trunk_host'.*neither a host name"),
    ({"HOTLINE_CALLBACK_TRUNK_HOST": "sbc.example.net;transport=tcp"}, "'callback.trunk_host'"),
    ({"HOTLINE_CALLBACK_TRUNK_HOST": "fe80::1%eth0\n[evil]"}, "'callback.trunk_host'"),
    ({"HOTLINE_CALLBACK_RING_TIMEOUT_S": "600"}, "'callback.ring_timeout_s'"),
    ({"HOTLINE_CALLBACK_MAX_ATTEMPTS": "0"}, "'callback.max_attempts'"),
])
def test_bad_callback_values_name_the_culprit(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=env)


def render(**env: str) -> dict[str, str]:
    return render_config(load_settings(environ={f"HOTLINE_{k.upper()}": v for k, v in env.items()}), CREDS)


def test_no_trunk_unless_configured() -> None:
    files = render()
    assert "hotline-outbound]" not in files["pjsip.conf"]
    assert "sip:" not in files["pjsip.conf"]


def test_trunk_rendered_when_configured_and_unreachable_from_the_dialplan() -> None:
    files = render(callback_trunk_host="192.0.2.10", callback_trunk_port="5080")
    pjsip = files["pjsip.conf"]
    sections = re.findall(r"^\[([^\]]+)\]\ntype = (\w+)", pjsip, flags=re.MULTILINE)
    assert ("hotline-outbound", "endpoint") in sections and ("hotline-outbound", "aor") in sections
    endpoint = pjsip.split("[hotline-outbound]\ntype = endpoint", 1)[1].split("\n[", 1)[0]
    for line in ("context = hotline-outbound-in", "identify_by = ip", "disallow = all", "allow = alaw,ulaw",
                 "dtmf_mode = rfc4733", "direct_media = no", "send_connected_line = no", "trust_id_inbound = no",
                 "allow_transfer = no", "aors = hotline-outbound"):
        assert f"\n{line}\n" in endpoint, line
    assert not re.search(r"^(auth|outbound_auth) *=", endpoint, flags=re.MULTILINE)
    assert "\ncontact = sip:192.0.2.10:5080\n" in pjsip
    assert pjsip.rstrip().endswith('#include "pjsip-agents.conf"')
    assert "[identify" not in pjsip and "type = identify" not in pjsip, "the trunk must never identify callers"

    dialplan = files["hotline-dialplan.conf"]
    code = [line for line in dialplan.splitlines() if line.strip() and not line.lstrip().startswith(";")]
    assert [line for line in code if "hotline-outbound" in line] == ["[hotline-outbound-in]"]
    assert "Dial(" not in dialplan and "PJSIP/" not in dialplan
    context = dialplan.split("[hotline-outbound-in]", 1)[1].split("\n[", 1)[0]
    assert not re.search(r"^\s*(exten|same|include|switch)\b", context, flags=re.MULTILINE)
    assert all(line.startswith(";") for line in context.strip().splitlines())
