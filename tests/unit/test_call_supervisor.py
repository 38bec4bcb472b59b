"""The supervisor's routing, call life cycle and recovery, against fakes (no PBX)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from engine.calls import CallSupervisor
from engine.pbx.ari_events import (
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    ChannelId,
    Connected,
    PlaybackFinished,
    PlaybackId,
    StasisStart,
)
from engine.position_book import PositionBook
from tests.unit.fakes import FakeClock, FakeControl, ListJournal, channel, greeting_flow


def make() -> tuple[CallSupervisor, FakeControl, ListJournal, FakeClock]:
    control, journal, clock = FakeControl(), ListJournal(), FakeClock()
    return CallSupervisor(control, journal, greeting_flow, clock, "hotline"), control, journal, clock


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def finish_playbacks(sup: CallSupervisor, control: FakeControl, finished: set[str]) -> None:
    """Tell the supervisor that every playback started so far has finished, as Asterisk would."""
    for cmd in control.commands:
        if cmd[0] == "play" and cmd[3] not in finished:
            finished.add(cmd[3])
            sup.dispatch(PlaybackFinished(at=FakeClock().now(), playback_id=PlaybackId(cmd[3]),
                                          target_uri=f"channel:{cmd[1]}", state="done"))


def test_call_is_answered_greeted_and_hung_up() -> None:
    async def scenario() -> None:
        sup, control, journal, clock = make()
        sup.dispatch(StasisStart(at=clock.now(), channel=channel(), args=("inbound",)))
        finished: set[str] = set()
        for _ in range(3):
            await settle()
            finish_playbacks(sup, control, finished)
        await settle()
        assert [c[0] for c in control.commands] == ["answer", "play", "play", "hangup"]
        assert control.commands[1][2] == "sound:hotline/greeting"
        assert journal.kinds("1.1") == ["call.started", "call.answered", "prompt.played", "prompt.played",
                                        "call.ended"]
        assert journal.entries[-1].data["outcome"] == "completed"
        assert sup.calls == {}

    asyncio.run(scenario())


def test_a_call_the_dialplan_answered_is_greeted_without_a_second_answer() -> None:
    """hotline-stasis answers before Stasis(): the channel arrives Up, and the answer is journaled at its start."""
    async def scenario() -> None:
        sup, control, journal, clock = make()
        start = clock.now()
        sup.dispatch(StasisStart(at=start, channel=replace(channel(), state="Up"), args=("inbound",)))
        clock.current += timedelta(milliseconds=40)
        await settle()
        assert [c[0] for c in control.commands] == ["play"]
        answered = next(e for e in journal.entries if e.kind == "call.answered")
        assert answered.at == start

    asyncio.run(scenario())


def test_hangup_during_prompt_is_abandoned_and_keys_are_buffered_not_journaled() -> None:
    async def scenario() -> None:
        sup, control, journal, clock = make()
        ch = channel()
        sup.dispatch(StasisStart(at=clock.now(), channel=ch))
        await settle()
        sup.dispatch(ChannelDtmfReceived(at=clock.now(), channel=ch, digit="5", duration_ms=100))
        sup.dispatch(ChannelHangupRequest(at=clock.now(), channel=ch, cause=16))
        sup.dispatch(ChannelDestroyed(at=clock.now(), channel=ch, cause=16, cause_txt="Normal Clearing"))
        await settle()
        await asyncio.sleep(0.01)
        assert journal.kinds("1.1") == ["call.started", "call.answered", "call.ended"]
        assert journal.entries[-1].data == {"outcome": "abandoned", "cause": "normal_clearing"}
        assert ("hangup", "1.1") not in control.commands

    asyncio.run(scenario())


def test_reconnect_readopts_our_calls_only() -> None:
    async def scenario() -> None:
        sup, control, journal, clock = make()
        control.present = [channel("2.1"), channel("2.2", in_app=False)]
        sup.dispatch(Connected(at=clock.now()))
        await settle()
        assert set(sup.calls) == {"2.1"}
        assert journal.kinds("2.1")[0] == "call.readopted"
        for task in list(sup._tasks):
            task.cancel()
        await asyncio.gather(*sup._tasks, return_exceptions=True)

    asyncio.run(scenario())


def test_stop_hands_live_calls_to_the_dialplan_fallback() -> None:
    async def scenario() -> None:
        sup, control, journal, clock = make()
        events: asyncio.Queue[StasisStart] = asyncio.Queue()

        async def stream():  # type: ignore[no-untyped-def]
            while True:
                yield await events.get()

        runner = asyncio.create_task(sup.run(stream()))
        events.put_nowait(StasisStart(at=clock.now(), channel=channel("3.1")))
        await settle()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        assert ("continue", "3.1", "hotline-fallback") in control.commands
        assert "call.handed_to_fallback" in journal.kinds("3.1")

    asyncio.run(scenario())


def test_readopted_calls_carry_the_position_the_book_holds(tmp_path: Path) -> None:
    """A restarted controller reads each caller's position from the book its predecessor wrote before
    resuming, and tells the ACD first; a position it cannot read starts that call over."""
    from engine.call_position import CallPosition

    at_menu = CallPosition("ivr", node="main_menu")
    earlier = PositionBook(tmp_path / "positions")
    earlier.write("4.1", CallPosition("ivr", node="greeting"))
    earlier.write("4.1", at_menu)
    earlier.write("9.9", at_menu)  # hung up while no controller listened
    earlier.close()
    with (tmp_path / "positions").open("a", encoding="utf-8") as book:
        book.write("4.2\t{broken\n4.3\t{\"stage\": \"iv")  # the last line cut short by the crash

    async def scenario() -> None:
        sup, control, journal, clock = make()
        sup.positions = PositionBook(tmp_path / "positions")
        told: list[dict[str, CallPosition]] = []
        sup.on_readopt = lambda positions: told.append(dict(positions))
        resumed: list[CallPosition | None] = []

        async def flow(call):  # type: ignore[no-untyped-def]
            resumed.append(call.resume_from)
            await asyncio.Event().wait()

        sup.flow = flow
        control.present = [channel("4.1"), channel("4.2"), channel("4.3")]
        sup.dispatch(Connected(at=clock.now()))
        await settle()
        assert told == [{"4.1": at_menu}]
        assert sorted(resumed, key=str) == sorted([at_menu, None, None], key=str)
        data = [e.data for e in journal.entries if e.call_uid == "4.1" and e.kind == "call.readopted"]
        assert data[0]["position"] == {"stage": "ivr", "node": "main_menu"}
        assert sup.positions.read("9.9") is None  # gone from Asterisk: forgotten
        for task in list(sup._tasks):
            task.cancel()
        await asyncio.gather(*sup._tasks, return_exceptions=True)
        sup.positions.close()

    asyncio.run(scenario())
    assert PositionBook(tmp_path / "positions").read("4.1") is None  # its call ended (cancelled) here


def test_reconnect_never_ends_a_live_call_for_an_ended_leg_or_a_callback_being_dialled() -> None:
    """Agent legs that ended are dropped from the routing table; a callback not yet dialled is not
    'vanished'; a caller really gone while disconnected is ended."""
    async def scenario() -> None:
        sup, control, journal, clock = make()

        async def flow(call):  # type: ignore[no-untyped-def]
            call.add_leg(ChannelId(f"agent1-{call.uid}"))
            while True:
                await call.next_event()

        sup.flow = flow
        sup.dispatch(StasisStart(at=clock.now(), channel=channel("5.1"), args=("inbound",)))
        sup.dispatch(StasisStart(at=clock.now(), channel=channel("5.2"), args=("inbound",)))
        await settle()
        leg = channel("agent1-5.1")
        sup.dispatch(ChannelDestroyed(at=clock.now(), channel=leg, cause=16, cause_txt="normal"))
        assert "agent1-5.1" not in sup.calls
        sup.start_outbound(channel("cb-1"), flow, "callback")
        await settle()
        control.present = [channel("5.1")]  # 5.2 hung up while the websocket was down
        sup.dispatch(Connected(at=clock.now()))
        await settle()
        assert "5.1" in sup.calls and "cb-1" in sup.calls
        assert "5.2" not in sup.calls
        assert journal.entries[-1].call_uid == "5.2" and journal.entries[-1].kind == "call.ended"
        for task in list(sup._tasks):
            task.cancel()
        await asyncio.gather(*sup._tasks, return_exceptions=True)

    asyncio.run(scenario())


def test_a_caller_arriving_while_the_channels_are_listed_is_not_taken_for_vanished() -> None:
    """Seen in the soak: a call that arrived during a restarted controller's reconciliation was ended after
    0.1 s because the channel list was fetched before it came."""
    async def scenario() -> None:
        sup, control, journal, clock = make()
        reading = asyncio.Event()
        resume = asyncio.Event()
        original = control.channels

        async def slow_channels() -> list[Channel]:
            listed = await original()  # the list as Asterisk had it when asked
            reading.set()
            await resume.wait()
            return listed

        control.channels = slow_channels  # type: ignore[method-assign]
        closed: list[set[str]] = []
        sup.close_unseen = lambda live, _closed: closed.append({str(c) for c in live})

        async def flow(call):  # type: ignore[no-untyped-def]
            await asyncio.Event().wait()

        sup.flow = flow
        control.present = [channel("6.1")]
        sup.dispatch(Connected(at=clock.now()))
        await asyncio.wait_for(reading.wait(), 1)
        sup.dispatch(StasisStart(at=clock.now(), channel=channel("6.2"), args=("inbound",)))
        resume.set()
        await settle()
        assert set(sup.calls) == {"6.1", "6.2"}
        assert "call.ended" not in journal.kinds("6.2")
        assert closed and {"6.1", "6.2"} <= closed[0]  # neither may be closed as unseen
        for task in list(sup._tasks):
            task.cancel()
        await asyncio.gather(*sup._tasks, return_exceptions=True)

    asyncio.run(scenario())


def test_an_agent_leg_that_ended_while_disconnected_is_reported_to_its_call() -> None:
    """Seen on the PBX: the agent hung up during a 3 s websocket gap and the caller sat alone in the bridge
    until they hung up. A leg Asterisk no longer has after a reconnect reaches its call as destroyed; a leg
    whose channel Asterisk never showed yet (still being dialled) does not."""
    async def scenario() -> None:
        sup, control, journal, clock = make()
        seen: list[str] = []

        async def flow(call):  # type: ignore[no-untyped-def]
            if call.uid == "7.1":
                call.add_leg(ChannelId("agent1-7.1"))
            else:
                call.add_leg(ChannelId("agent2-7.2"))
            while True:
                event = await call.next_event()
                if isinstance(event, ChannelDestroyed):
                    seen.append(str(event.channel.id))

        sup.flow = flow
        for uid in ("7.1", "7.2"):
            sup.dispatch(StasisStart(at=clock.now(), channel=channel(uid), args=("inbound",)))
        await settle()
        # The first leg showed itself (answered into the app); the second is still being dialled.
        sup.dispatch(StasisStart(at=clock.now(), channel=channel("agent1-7.1"), args=("agent-leg",)))
        await settle()
        control.present = [channel("7.1"), channel("7.2")]
        sup.dispatch(Connected(at=clock.now()))
        await settle()
        assert seen == ["agent1-7.1"], seen
        assert "agent1-7.1" not in sup.calls and "agent2-7.2" in sup.calls
        assert "7.1" in sup.calls and "7.2" in sup.calls


def test_a_callback_the_last_controller_was_serving_is_taken_up_by_the_dialers_flow() -> None:
    """After a restart the customer channel of a callback (in our app with the callback's argument) is
    re-adopted with the flow the dialer gives for it, its position read like a caller's and its agent's
    leg found; a callback customer answering for nobody is hung up, like an agent leg."""
    from dataclasses import replace

    from engine.call_position import CallPosition

    async def scenario() -> None:
        sup, control, journal, clock = make()
        told: list[dict[str, CallPosition]] = []
        sup.on_readopt = lambda positions: told.append(dict(positions))
        taken_up: list[tuple[str, CallPosition | None, set[str], str]] = []

        async def take_up(call):  # type: ignore[no-untyped-def]
            taken_up.append((call.uid, call.resume_from, set(call.stale_legs), call.source))
            await asyncio.Event().wait()

        customer = replace(channel("cb7-0a1b2c3d"), app_data="hotline,callback-customer,7")
        stranger = replace(channel("other-1"), app_data="hotline,callback-customer,8")
        sup.resume_callback = lambda ch: take_up if ch.id == customer.id else None
        talking = CallPosition("talking", queue="vip", agent="2903", leg="agent2-cb7-0a1b2c3d", bridge="b",
                               recording="r")
        leg = replace(channel("agent2-cb7-0a1b2c3d"), app_data="hotline,agent-leg,cb7-0a1b2c3d")
        orphan = replace(channel("agent1-9.9"), app_data="hotline,agent-leg,9.9")  # its caller hung up meanwhile
        control.present = [customer, stranger, leg, orphan]
        sup.positions.write(customer.id, talking)
        sup.dispatch(Connected(at=clock.now()))
        await settle()
        assert told == [{"cb7-0a1b2c3d": talking}]
        assert taken_up == [("cb7-0a1b2c3d", talking, {"agent2-cb7-0a1b2c3d"}, "callback")]
        assert set(sup.calls) == {"cb7-0a1b2c3d"}  # one the dialer does not know is not adopted
        hung_up = [c[1] for c in control.commands if c[0] == "hangup"]
        assert hung_up == ["agent1-9.9"], hung_up  # the live callback's agent leg is left to its flow
        late = replace(channel("cb9-ffffffff"), app_data="hotline,callback-customer,9")
        sup.dispatch(StasisStart(at=clock.now(), channel=late, args=("callback-customer", "9")))
        await settle()
        assert ("hangup", "cb9-ffffffff") in [c[:2] for c in control.commands]
        for task in list(sup._tasks):
            task.cancel()
        await asyncio.gather(*sup._tasks, return_exceptions=True)

    asyncio.run(scenario())
