"""The queue service's pieces wired together on a fake PBX: a caller served by the agent the distributor
picks, a missed offer that passes the caller to the next agent, the announcement and the silent script."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from acd.model import AgentId, AgentState
from acd.state import SignIn
from engine import recording_space
from engine.call_session import CallEnded, CallSession
from engine.pbx.ari import AriClient
from engine.pbx.ari_events import (
    ChannelDestroyed,
    ChannelHangupRequest,
    ChannelId,
    Event,
    PlaybackFinished,
    PlaybackId,
)
from engine.queueing.announce import PositionAnnouncer, announcement_text
from engine.queueing.recording_files import RecordingFiles
from engine.queueing.service import QueueService
from engine.queueing.silent_step import SilentScriptStep
from engine.scripts.silent_call import SilentVariant
from engine.speech.mandarin import say_number
from tests.unit.fakes import FakeClock, FakeQueueControl, ListJournal, channel
from tests.unit.fakes_queue import GENERAL, POLICY, QUEUES, answered, caller, line, spoke

AT = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


class PlayingControl(FakeQueueControl):
    """Every playback finishes at once; ``after_play`` may add what the caller does once they heard it."""

    def __init__(self) -> None:
        super().__init__()
        self.call: CallSession | None = None
        self.after_play: list[Event] = []

    async def play(self, channel: ChannelId, media: str, playback: PlaybackId, lang: str | None = None) -> None:
        await super().play(channel, media, playback, lang)
        assert self.call is not None
        self.call.inbox.put_nowait(PlaybackFinished(at=AT, playback_id=playback, target_uri=f"channel:{channel}",
                                                    state="done"))
        for event in self.after_play:
            self.call.inbox.put_nowait(event)
        self.after_play = []


def service_with(control: FakeQueueControl, journal: ListJournal, clock: FakeClock, folder: Path,
                 *numbers: str) -> QueueService:
    service = QueueService(cast(AriClient, control), journal, clock, QUEUES, folder, POLICY)
    service.recordings = RecordingFiles(folder, settle_waits=1)
    service.set_agents({AgentId(n): line(n) for n in numbers})
    for number in numbers:
        service.registration(f"sip{number}", online=True)
        assert service.agent_event(AgentId(number), SignIn()) is None
    return service


async def served(service: QueueService, call: CallSession) -> bool:
    """``service.serve`` of the caller in the general queue, with the distributor running to answer it."""
    distributor = asyncio.create_task(service.run())
    try:
        return await asyncio.wait_for(service.serve(call, "general", 0), 5)
    finally:
        distributor.cancel()


def answered_then_hung_up(folder: Path, by: str) -> tuple[QueueService, CallSession, FakeQueueControl, ListJournal]:
    """Agent 1001 answers caller c1, then ``by`` ("agent" or "caller") hangs up."""
    clock, journal, control = FakeClock(), ListJournal(), FakeQueueControl()
    service = service_with(control, journal, clock, folder, "1001")
    call = caller("c1", control, journal, clock)

    def answers_then_hangs_up(leg: ChannelId) -> None:
        call.inbox.put_nowait(answered(leg))
        call.inbox.put_nowait(ChannelHangupRequest(at=AT, channel=channel(str(leg) if by == "agent" else "c1")))

    control.on_ring = answers_then_hangs_up
    return service, call, control, journal


def test_a_caller_is_rung_through_to_a_free_agent_and_the_agent_wraps_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        service, call, control, journal = answered_then_hung_up(tmp_path, by="agent")
        assert await served(service, call) is True
        kinds = journal.kinds("c1")
        assert [k for k in kinds if k.startswith("queue.")] == ["queue.entered", "queue.offered", "queue.answered"]
        assert kinds[-1] == "recording.missing"  # the fake PBX writes no file
        assert service.statuses[AgentId("1001")].state == AgentState.AFTER_CALL_WORK
        assert service.waiting == {} and service.conversations == {}
        assert ("start_moh", "c1", "default") in control.commands
        # The caller is taken out before the bridge goes: a farewell asked for while Asterisk was still
        # taking them out of a destroyed bridge was lost (never played, never finished).
        assert [c[0] for c in control.commands if "bridge" in c[0]] == [
            "create_bridge", "add_to_bridge", "remove_from_bridge", "destroy_bridge"]
        assert next(c for c in control.commands if c[0] == "remove_from_bridge")[2:] == ("c1",)
        # The agent's leg is already being hung up: not asked again (a request for nothing).
        assert ("hangup", "agent1-c1") not in [c[:2] for c in control.commands]

    asyncio.run(scenario())


def test_a_caller_who_hangs_up_on_the_agent_has_the_agents_leg_hung_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        service, call, control, _ = answered_then_hung_up(tmp_path, by="caller")
        with pytest.raises(CallEnded):
            await served(service, call)
        assert ("hangup", "agent1-c1") in [c[:2] for c in control.commands]
        assert "remove_from_bridge" not in [c[0] for c in control.commands]  # nobody left to take out

    asyncio.run(scenario())


async def serve_a_recorded_call(control: FakeQueueControl, journal: ListJournal, folder: Path) -> None:
    """Agent 1001 answers caller c1, then hangs up."""
    clock = FakeClock()
    service = service_with(control, journal, clock, folder, "1001")
    call = caller("c1", control, journal, clock)

    def answers_then_hangs_up(leg: ChannelId) -> None:
        call.inbox.put_nowait(answered(leg))
        call.inbox.put_nowait(ChannelHangupRequest(at=AT, channel=channel(str(leg))))

    control.on_ring = answers_then_hangs_up
    assert await served(service, call) is True


def test_the_agent_is_rung_with_the_file_asterisk_records_the_conversation_into(tmp_path: Path) -> None:
    """Asterisk starts the recording on the agent's answer (the dialplan's MixMonitor): the controller names
    the file when it rings, and journals the recording started once caller and agent are bridged."""
    journal, control = ListJournal(), FakeQueueControl()
    asyncio.run(serve_a_recorded_call(control, journal, tmp_path))
    started = next(e for e in journal.entries if e.kind == "recording.started")
    rung = next(c for c in control.commands if c[0] == "ring_leg")
    assert rung[-1] == started.data["name"] and str(started.data["name"]).startswith("c1-1001-")
    assert started.data["agent"] == "1001"
    kinds = journal.kinds("c1")
    assert kinds.index("recording.started") > kinds.index("queue.answered")
    assert kinds[-1] == "recording.missing"  # the fake PBX writes no file


def test_on_a_full_recordings_disk_the_agent_is_rung_without_a_recording_and_the_journal_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording_space, "refusal", lambda _folder: "recordings disk full")
    journal, control = ListJournal(), FakeQueueControl()
    asyncio.run(serve_a_recorded_call(control, journal, tmp_path))
    assert next(c for c in control.commands if c[0] == "ring_leg")[-1] is None
    failed = next(e for e in journal.entries if e.kind == "recording.failed")
    assert failed.data["why"] == "recordings disk full" and failed.data["agent"] == "1001"
    kinds = journal.kinds("c1")
    assert "recording.started" not in kinds
    assert "recording.missing" not in kinds and "recording.saved" not in kinds


def test_an_agent_who_does_not_answer_is_charged_a_miss_and_the_next_agent_gets_the_caller(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), FakeQueueControl()
        service = service_with(control, journal, clock, tmp_path, "1001", "1002")
        call = caller("c1", control, journal, clock)
        rung: list[str] = []

        def first_misses(leg: ChannelId) -> None:
            rung.append(str(control.commands[-1][1]))
            if len(rung) == 1:
                call.inbox.put_nowait(ChannelDestroyed(at=AT, channel=channel(str(leg))))
            else:
                call.inbox.put_nowait(answered(leg))
                call.inbox.put_nowait(ChannelHangupRequest(at=AT, channel=channel(str(leg))))

        control.on_ring = first_misses
        assert await served(service, call) is True
        assert len(rung) == 2 and rung[0] != rung[1]
        missed = AgentId(rung[0].removeprefix("PJSIP/sip"))
        assert service.statuses[missed].state == AgentState.AVAILABLE
        assert service.statuses[missed].missed_offers == 1
        assert [k for k in journal.kinds("c1") if k.startswith("queue.")] == [
            "queue.entered", "queue.offered", "queue.no_answer", "queue.offered", "queue.answered"]

    asyncio.run(scenario())


def test_the_announcement_says_the_place_and_puts_the_music_back() -> None:
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), PlayingControl()
        call = control.call = caller("c1", control, journal, clock)
        spoken: list[str] = []

        async def speak(text: str) -> str:
            spoken.append(text)
            return "tts-1"

        await PositionAnnouncer(control, speak).announce(call, GENERAL, 3, 400)
        assert spoken == [announcement_text(3, 400)]
        assert say_number(2) in spoken[0] and say_number(7) in spoken[0]  # two ahead, about 7 minutes
        assert announcement_text(1, 10) == "您是下一位,请稍候。"
        assert [c[0] for c in control.commands] == ["stop_moh", "play", "start_moh"]
        assert control.commands[1][2] == "sound:hotline/tts-1"
        assert journal.entries[0].data == {"queue": "general", "position": 3, "expected_wait_s": 400}

    asyncio.run(scenario())


def test_a_silent_caller_who_speaks_during_the_script_goes_back_to_the_front() -> None:
    async def scenario() -> None:
        clock, journal, control = FakeClock(), ListJournal(), PlayingControl()
        call = control.call = caller("c1", control, journal, clock)
        control.after_play = [spoke(call)]
        result = await SilentScriptStep(control).run(call, GENERAL, SilentVariant.SILENT)
        assert not isinstance(result, bool) and (result.queue, result.front) == ("general", True)
        assert call.outcome is None
        assert [k for k in journal.kinds("c1") if k.startswith("silent.")] == [
            "silent.started", "silent.speech_heard", "silent.requeued"]
        assert control.commands[-1] == ("start_moh", "c1", "default")

    asyncio.run(scenario())
