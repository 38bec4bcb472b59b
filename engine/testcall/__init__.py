"""Test calls: a scripted SIP caller (SIPp) that dials the hotline and reports what it experienced.

Used by ``hotline call dial`` so an operator can try the hotline without a softphone, and by the PBX
test-suite for every telephony test. `place_call` (runner.py) runs one call; `RtpListener` (rtp.py)
measures the audio the caller receives; `caller_scenario` (scenario.py) is the SIPp script, built from
the XML blocks in sipp_xml.py, as is the scripted agent's (agent.py). This package only drives SIPp as a
subprocess; it never talks to Asterisk's ARI or AMI.
"""

from engine.testcall.rtp import AudioReport, RtpListener
from engine.testcall.runner import CallReport, SippNotInstalled, format_report, place_call
from engine.testcall.scenario import BadTestCall, caller_scenario

__all__ = [
    "AudioReport",
    "BadTestCall",
    "CallReport",
    "RtpListener",
    "SippNotInstalled",
    "caller_scenario",
    "format_report",
    "place_call",
]
