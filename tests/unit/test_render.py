"""Config rendering is pure; these checks pin the security properties of what we ship."""

from __future__ import annotations

from engine.pbx.credentials import PbxCredentials
from engine.pbx.render import render_config
from engine.settings import load_settings

CREDS = PbxCredentials("hotline", "ari-pass-xyz", "hotline", "ami-pass-xyz")


def render(**env: str) -> dict[str, str]:
    return render_config(load_settings(environ={f"HOTLINE_{k.upper()}": v for k, v in env.items()}), CREDS)


def test_renders_every_file_with_no_placeholder_left() -> None:
    files = render()
    for name in ("asterisk.conf", "modules.conf", "pjsip.conf", "http.conf", "ari.conf", "manager.conf",
                 "extensions.conf", "hotline-dialplan.conf", "cdr_custom.conf", "rtp.conf", "logger.conf"):
        assert name in files
    assert not any("{{" in text or "{%" in text for text in files.values())


def test_control_interfaces_on_loopback_with_generated_credentials() -> None:
    files = render()
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert "bindaddr = 127.0.0.1" in files["manager.conf"]
    assert "password = ari-pass-xyz" in files["ari.conf"]
    assert "secret = ami-pass-xyz" in files["manager.conf"]
    assert "permit = 127.0.0.1/255.255.255.255" in files["manager.conf"]
    write = next(line for line in files["manager.conf"].splitlines() if line.startswith("write"))
    for right in ("originate", "config", "command", "system", "all"):
        assert right not in write
    # The controller parses every event of the classes it reads: only those it handles.
    read = next(line for line in files["manager.conf"].splitlines() if line.startswith("read"))
    assert read == "read = system,security"


def test_anonymous_callers_are_confined_to_the_hotline_context() -> None:
    files = render(hotline_number="10086")
    assert "context = hotline-inbound" in files["pjsip.conf"]
    dialplan = files["hotline-dialplan.conf"]
    assert "Dial(" not in dialplan
    assert "exten => 10086,1" in dialplan and "exten => _10086.,1" in dialplan
    assert "Stasis(hotline,inbound,${EXTEN})" in dialplan
    assert 'STASISSTATUS}" = "FAILED"]?hotline-fallback' in dialplan


def test_ports_and_instance_are_settings() -> None:
    files = render(pbx_sip_port="5070", pbx_ari_port="8090", pbx_instance="site2")
    assert "bind = 127.0.0.1:5070" in files["pjsip.conf"]
    assert "bindport = 8090" in files["http.conf"]
    assert "astetcdir => /etc/hotline/site2" in files["asterisk.conf"]


def test_benchmark_baseline_only_when_asked() -> None:
    assert "7" + "10086,1,Answer()" not in render()["hotline-dialplan.conf"]
    assert "exten => 710086,1,Answer()" in render(pbx_bench_baseline="true")["hotline-dialplan.conf"]


def test_benchmark_baseline_records_through_a_context_that_exists() -> None:
    """Queue's gosub argument is a context name (app_queue runs its s,1): the b() option's context^exten^priority
    form there named a context that does not exist, and the baseline recorded nothing, unnoticed."""
    dialplan = render(pbx_bench_baseline="true")["hotline-dialplan.conf"]
    queue = next(line for line in dialplan.splitlines() if "Queue(hotline-bench," in line)
    gosub = queue.split("Queue(", 1)[1].rstrip(")").split(",")[6]
    assert f"[{gosub}]" in dialplan
    assert "MixMonitor(" in dialplan.split(f"[{gosub}]", 1)[1].split("\n[", 1)[0]


def test_external_pbx_keeps_its_own_directories_and_modules() -> None:
    files = render(pbx_mode="external")
    assert "asterisk.conf" not in files and "modules.conf" not in files
    assert "pjsip.conf" in files and "hotline-dialplan.conf" in files
