"""The agents' PJSIP sections are a pure render: confined context, md5 digest, qualify, work-number caller id.

Also pins the wiring around it: pjsip.conf includes the file, the normal config write never clobbers it
and always leaves one to include, and the [hotline-agents] dialplan knows only the feature codes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from engine.agents.config_file import AGENTS_FILE, HEADER, ensure_agents_file
from engine.agents.pjsip import AGENT_CONTEXT, render_agents_pjsip
from engine.agents.store import REALM, AgentRecord, digest_credential
from engine.pbx.control import PbxControl
from engine.pbx.credentials import PbxCredentials
from engine.pbx.render import render_config
from engine.settings import Settings, load_settings

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CREDS = PbxCredentials("hotline", "ari-pass", "hotline", "ami-pass")


def agent(work_number: str, name: str = "张三", removed: bool = False) -> AgentRecord:
    user = f"agent-{work_number}"
    return AgentRecord(work_number=work_number, name=name, skills=frozenset({"billing"}), tier="inbound",
                       sip_user=user, md5_cred=digest_credential(user, "secret-password-123"), created_at=T0,
                       removed_at=T0 if removed else None)


def sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """(section name, options) in order; comments and blank lines dropped."""
    result: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if not line:
            continue
        if header := re.fullmatch(r"\[(.+)\]", line):
            result.append((header.group(1), {}))
        else:
            key, _, value = line.partition("=")
            result[-1][1][key.strip()] = value.strip()
    return result


def by_type(text: str, kind: str) -> dict[str, dict[str, str]]:
    return {name: options for name, options in sections(text) if options["type"] == kind}


def settings() -> Settings:
    return load_settings(environ={})


def test_each_agent_gets_a_confined_endpoint_showing_only_its_work_number() -> None:
    text = render_agents_pjsip([agent("1001"), agent("1002", name="李四")], settings())
    endpoints = by_type(text, "endpoint")
    assert list(endpoints) == ["agent-1001", "agent-1002"]
    e = endpoints["agent-1001"]
    assert e["context"] == AGENT_CONTEXT == "hotline-agents"
    assert (e["disallow"], e["allow"], e["dtmf_mode"]) == ("all", "alaw,ulaw", "rfc4733")
    assert (e["send_connected_line"], e["direct_media"], e["allow_subscribe"]) == ("no", "no", "no")
    assert (e["trust_id_inbound"], e["allow_transfer"]) == ("no", "no")
    assert e["callerid"] == '"1001" <1001>'
    assert (e["auth"], e["aors"]) == ("agent-1001-auth", "agent-1001")
    assert "张三" not in text and "李四" not in text


def test_auth_is_an_md5_digest_in_the_hotline_realm() -> None:
    text = render_agents_pjsip([agent("1001")], settings())
    auth = by_type(text, "auth")["agent-1001-auth"]
    assert auth == {"type": "auth", "auth_type": "md5", "username": "agent-1001", "realm": REALM,
                    "md5_cred": digest_credential("agent-1001", "secret-password-123")}
    assert REALM == "hotline" and "secret-password-123" not in text and "password =" not in text


def test_aor_takes_one_contact_and_is_qualified() -> None:
    aor = by_type(render_agents_pjsip([agent("1001")], settings()), "aor")["agent-1001"]
    assert (aor["max_contacts"], aor["remove_existing"], aor["qualify_frequency"]) == ("1", "yes", "15")


def test_removed_agents_are_left_out_and_order_is_by_work_number() -> None:
    text = render_agents_pjsip([agent("10000"), agent("1001", removed=True), agent("999")], settings())
    assert list(by_type(text, "endpoint")) == ["agent-999", "agent-10000"]
    assert render_agents_pjsip([], settings()) == HEADER


def test_pjsip_conf_includes_the_agents_file_and_agents_only_reach_feature_codes() -> None:
    files = render_config(settings(), CREDS)
    assert files["pjsip.conf"].rstrip().endswith(f'#include "{AGENTS_FILE}"')
    assert AGENTS_FILE not in files  # written by provisioning, never by the config render
    dialplan = files["hotline-dialplan.conf"]
    context = dialplan.split("[hotline-agents]", 1)[1].split("\n[", 1)[0]
    extensions = re.findall(r"^exten => ([^,]+),1,", context, flags=re.MULTILINE)
    assert extensions == ["*1", "*2", "*3", "*4", "*5"]
    for feature in ("sign_in", "sign_out", "pause", "resume", "end_acw"):
        assert f"Stasis(hotline,agent-feature,{feature},${{CALLERID(num)}})" in context
    assert "Dial(" not in context and "Goto(" not in context
    assert context.count("Playback(hotline/apology)") == 5


def test_config_write_keeps_the_agents_file_and_creates_an_empty_one(tmp_path: Path) -> None:
    config_dir = tmp_path / "etc"
    external = load_settings(environ={"HOTLINE_PBX_MODE": "external", "HOTLINE_PBX_CONFIG_DIR": str(config_dir),
                                      "HOTLINE_DATA_DIR": str(tmp_path / "data")})
    control = PbxControl(external, CREDS)
    control.write_config()
    path = config_dir / AGENTS_FILE
    assert path.read_text(encoding="utf-8") == HEADER and path.stat().st_mode & 0o777 == 0o600
    path.write_text(render_agents_pjsip([agent("1001")], external), encoding="utf-8")
    control.write_config()
    assert "[agent-1001]" in path.read_text(encoding="utf-8")
    assert ensure_agents_file(config_dir) == path and "[agent-1001]" in path.read_text(encoding="utf-8")
