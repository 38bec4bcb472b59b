"""The offer node (message, callback, keep waiting) and a queue node's ``unserved``: loading, checking,
running on the fake channel, simulating, and the queue node written into a caller's position."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from engine.call_position import CallPosition
from engine.call_session import CallSession
from engine.ivr.call_flow import ivr_call_flow
from engine.ivr.ports import Choices
from engine.ivr.runner import Exit, FlowRunner, IvrServices, offer_keys
from engine.ivr.simulate import NoIncidents, SampleSelfService, simulate
from engine.pbx.ari_events import ChannelDtmfReceived, ChannelId, PlaybackFinished, PlaybackId
from ivr_flows.check import check_flow
from ivr_flows.errors import FlowError
from ivr_flows.loader import load_flow
from ivr_flows.model import Flow, Offer, OfferPrompt, Queue
from tests.unit.fakes import FakeClock, FakeControl, ListJournal, channel
from tests.unit.fakes_ivr import FakeIncidents, FakeIvrChannel, FakeSelfService, flow_from

FLOW_TEXT = """\
    start: main
    nodes:
      main: {type: menu, prompt: main-menu, keys: {"0": agent}, fallback: agent}
      agent: {type: queue, queue: general, prompt: to-agent, unserved: unserved}
      unserved:
        type: offer
        queue: agent
        prompt: {message: offer-message, callback: offer-callback, wait: offer-callback-wait}
        timeout: 6
        keep_waiting: 2
        message: thanks
        callback: booked
        fallback: sorry
      thanks: {type: hangup, prompt: message-thanks}
      booked: {type: hangup, prompt: callback-booked}
      sorry: {type: hangup, prompt: agent-unavailable}
    prompts:
      main-menu: 主菜单
      to-agent: 正在为您转接
      invalid-input: 输入有误
      no-input: 没有收到
    """
FLOW = flow_from(FLOW_TEXT)
ALL = Choices(message=True, callback=True, keep_waiting=True)


def run(channel: FakeIvrChannel, start: str | None = None) -> Exit:
    services = IvrServices(FakeSelfService(), FakeIncidents())
    return asyncio.run(FlowRunner(FLOW, services).run(channel, start))


# -- loading and checking -------------------------------------------------------------------------------------


def test_the_offer_node_loads_with_its_prompts_per_case_and_lines() -> None:
    offer = FLOW.nodes["unserved"]
    assert isinstance(offer, Offer)
    assert offer.queue == "agent" and offer.keep_waiting == 2 and offer.timeout == 6
    assert offer.prompts == (OfferPrompt("message", "offer-message", 8), OfferPrompt("callback", "offer-callback", 8),
                             OfferPrompt("wait", "offer-callback-wait", 8))
    assert offer.prompt_for("wait") == "offer-callback-wait"
    queue = FLOW.nodes["agent"]
    assert isinstance(queue, Queue) and queue.unserved == "unserved"
    assert check_flow(FLOW) == []


def test_offer_prompts_default_to_the_catalog() -> None:
    flow = flow_from(FLOW_TEXT.replace(
        "        prompt: {message: offer-message, callback: offer-callback, wait: offer-callback-wait}\n", ""))
    offer = flow.nodes["unserved"]
    assert isinstance(offer, Offer) and offer.prompts == ()
    assert [offer.prompt_for(c) for c in ("message", "callback", "wait")] == [
        "offer-message", "offer-callback", "offer-callback-wait"]
    assert check_flow(flow) == []


def test_bad_offer_fields_are_refused_with_their_lines() -> None:
    text = FLOW_TEXT.replace("wait: offer-callback-wait}", "later: x}").replace("keep_waiting: 2", "keep_waiting: -1")
    with pytest.raises(FlowError) as err:
        flow_from(text)
    assert [str(p) for p in err.value.problems] == [
        "test.yaml:8: offer node 'unserved' prompt: unknown case 'later' (one of message, callback, wait)",
        "test.yaml:10: offer node 'unserved' keep_waiting must be 0 or more",
    ]


def test_check_refuses_an_offer_going_back_to_a_non_queue_and_unknown_targets() -> None:
    text = (FLOW_TEXT.replace("        queue: agent\n", "        queue: main\n")
            .replace("unserved: unserved}", "unserved: nowhere}"))
    problems = [str(p) for p in check_flow(flow_from(text))]
    assert "test.yaml:4: queue node 'agent' unserved: unknown node 'nowhere'" in problems
    assert ("test.yaml:7: offer node 'unserved' queue: 'main' is a menu node; keep waiting goes back to a queue "
            "node") in problems
    assert "test.yaml:5: offer node 'unserved' is unreachable (not reached from start or a speed line)" in problems


def test_check_refuses_an_offer_that_offers_nothing_and_unknown_prompts() -> None:
    text = (FLOW_TEXT.replace("        message: thanks\n", "").replace("        callback: booked\n", "")
            .replace("message: offer-message", "message: no-such-prompt"))
    problems = [str(p) for p in check_flow(flow_from(text))]
    assert any(p.startswith("test.yaml:5: offer node 'unserved' offers nothing") for p in problems), problems
    assert ("test.yaml:8: offer node 'unserved' prompt message: no 'message' target, so no message is taken"
            in problems)
    assert any("prompt message: prompt 'no-such-prompt' has no text" in p for p in problems), problems
    # thanks and booked are now unreachable too.
    assert sum("is unreachable" in p for p in problems) == 2


def test_the_shipped_flow_gives_every_queue_node_an_offer() -> None:
    flow = load_flow("ivr_flows/hotline.yaml")
    assert check_flow(flow) == []
    queues = [n for n in flow.nodes.values() if isinstance(n, Queue)]
    assert queues
    for node in queues:
        assert node.unserved is not None, node.name
        offer = flow.nodes[node.unserved]
        assert isinstance(offer, Offer) and offer.queue == node.name, node.name
        assert [offer.prompt_for(c) for c in ("message", "callback", "wait")] == [
            "offer-message", "offer-callback", "offer-callback-wait"]
        assert offer.message is not None and offer.callback is not None
        assert flow.nodes[offer.message].prompt_refs()[0].name == "message-thanks"  # type: ignore[union-attr]
        assert flow.nodes[offer.callback].prompt_refs()[0].name == "callback-booked"
        assert flow.nodes[offer.fallback].prompt_refs()[0].name == "agent-unavailable"


# -- which keys, pure ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("choices", "kept", "keys"), [
    (ALL, 0, {"1", "2", "3"}),
    (ALL, 2, {"1", "2"}),  # kept waiting as often as the node allows
    (Choices(message=True, callback=True), 0, {"1", "2"}),  # nobody signed in: nothing to wait for
    (Choices(message=True, keep_waiting=True), 0, {"1"}),  # keep waiting only beside a callback (as today)
    (Choices(callback=True, keep_waiting=True), 0, {"2", "3"}),
    (Choices(), 0, set()),
])
def test_offer_keys_follow_what_is_possible(choices: Choices, kept: int, keys: set[str]) -> None:
    offer = FLOW.nodes["unserved"]
    assert isinstance(offer, Offer)
    assert offer_keys(offer, choices, kept) == keys


# -- running it ------------------------------------------------------------------------------------------------


def test_a_served_caller_ends_the_walk_at_the_queue() -> None:
    channel = FakeIvrChannel(["0"], served=[True])
    assert run(channel) == Exit("queued", "agent", "general", 0)
    assert channel.queue_calls == [("general", 0, "agent")]
    assert "queue.offer" not in channel.kinds()


def test_unserved_caller_leaves_a_message() -> None:
    channel = FakeIvrChannel(["0", "1"], served=[False])
    assert run(channel) == Exit("hangup", "thanks") and channel.hung_up
    assert channel.prompts == ["main-menu", "to-agent", "offer-callback-wait", "message-prompt", "message-thanks"]
    assert channel.data("queue.offer") == [{"queue": "general", "choice": "1"}]
    assert channel.messages == [("general", "unserved")]
    assert channel.path == ["main", "agent", "unserved", "thanks"]


def test_unserved_caller_books_a_callback() -> None:
    channel = FakeIvrChannel(["0", "2"], served=[False], choices=Choices(message=True, callback=True))
    assert run(channel) == Exit("hangup", "booked")
    assert channel.prompts[-2:] == ["offer-callback", "callback-booked"]
    assert channel.callbacks == ["general"] and channel.messages == []


def test_keep_waiting_goes_back_to_the_queue_in_the_same_place_without_its_prompt() -> None:
    channel = FakeIvrChannel(["0", "3", "3", "3"], served=[False, False, False])
    assert run(channel) == Exit("hangup", "sorry")
    assert channel.data("queue.keep_waiting") == [{"queue": "general"}] * 2
    # keep_waiting: 2 -> the third offer has no 3 (the callback prompt) and the 3 pressed is not valid.
    assert channel.data("queue.offer") == [{"queue": "general", "choice": "3"}] * 2 + [
        {"queue": "general", "choice": None}]
    assert channel.prompts == ["main-menu", "to-agent", "offer-callback-wait", "offer-callback-wait",
                               "offer-callback", "agent-unavailable"]
    assert [c[2] for c in channel.queue_calls] == ["agent"] * 3
    # The queue prompt and the ivr.exit are said once; the position is not rewritten to "ivr" on the way back.
    assert len(channel.data("ivr.exit")) == 2 and channel.reached_nodes.count("agent") == 1


def test_keep_waiting_then_served() -> None:
    channel = FakeIvrChannel(["0", "3"], served=[False, True])
    assert run(channel) == Exit("queued", "agent", "general", 0)
    assert channel.prompts == ["main-menu", "to-agent", "offer-callback-wait"]


def test_no_valid_key_or_a_timeout_gets_the_fallback() -> None:
    channel = FakeIvrChannel(["0", "7"], served=[False], choices=Choices(message=True))
    assert run(channel) == Exit("hangup", "sorry")
    assert channel.prompts[-2:] == ["offer-message", "agent-unavailable"]
    assert channel.data("queue.offer") == [{"queue": "general", "choice": None}]
    timed_out = FakeIvrChannel(["0", None], served=[False])
    assert run(timed_out) == Exit("hangup", "sorry")


def test_nothing_possible_goes_straight_to_the_fallback_without_an_offer() -> None:
    channel = FakeIvrChannel(["0"], served=[False], choices=Choices(keep_waiting=True))
    assert run(channel) == Exit("hangup", "sorry")
    assert "queue.offer" not in channel.kinds()
    assert channel.prompts[-1] == "agent-unavailable"


def test_a_queue_node_without_unserved_says_the_apology() -> None:
    flow = flow_from("""\
        start: agent
        nodes:
          agent: {type: queue, queue: general}
        """)
    channel = FakeIvrChannel(served=[False])
    exit_ = asyncio.run(FlowRunner(flow, IvrServices(FakeSelfService(), FakeIncidents())).run(channel))
    assert exit_ == Exit("queued", "agent", "general", 0)
    assert channel.prompts == ["agent-unavailable"]


def test_the_offer_clears_keys_typed_during_the_wait() -> None:
    channel = FakeIvrChannel(["0"], served=[False], typed_ahead="", choices=ALL)
    channel.keys.append("2")
    channel.buffer.clear()
    # A key typed in the queue (still buffered) is not taken as a choice: the offer starts clean.
    original = channel.to_queue

    async def to_queue(queue: str, priority: int = 0, node: str | None = None) -> bool:
        result = await original(queue, priority, node)
        channel.buffer.append("9")
        return result

    channel.to_queue = to_queue  # type: ignore[method-assign]
    assert run(channel) == Exit("hangup", "booked")
    assert channel.data("queue.offer") == [{"queue": "general", "choice": "2"}]


# -- simulating ------------------------------------------------------------------------------------------------


def simulated(keys: str, unserved: str | None, caller: str = "13800138000"):  # type: ignore[no-untyped-def]
    flow = load_flow("ivr_flows/hotline.yaml")
    at = datetime(2026, 11, 23, 14, 0)
    services = IvrServices(SampleSelfService(at.date()), NoIncidents())
    return asyncio.run(simulate(flow, services, caller, "10086", keys, at, unserved=unserved))


def test_simulate_walks_the_unserved_path_of_the_shipped_flow() -> None:
    result = simulated("0,3,1", "busy")
    assert result.path == ["hours", "vip_check", "greeting", "greet", "main_menu", "agent", "agent_line",
                           "agent_unserved", "agent_line", "agent_unserved", "message_left"]
    assert result.exit == Exit("hangup", "message_left")
    text = "\n".join(result.transcript)
    assert "继续等待请按3" in text and "(keeps waiting, same place in the queue)" in text
    assert "(records the caller's message for queue general)" in text
    assert result.said[-2:] == ["请在提示音后留言,留言完毕请按井号键。",
                                "您的留言已收到,我们会尽快与您联系。感谢您的来电,再见!"]


def test_simulate_closed_queue_offers_no_waiting_and_served_by_default() -> None:
    closed = simulated("0,3", "closed")
    assert closed.exit == Exit("hangup", "no_agent")
    assert "对不起,现在没有空闲的坐席。留言请按1;预约回呼请按2。" in closed.said
    served = simulated("0", None)
    assert served.exit == Exit("queued", "agent_line", "general", 0)


# -- positions: the queue node travels with the caller ----------------------------------------------------------


def test_positions_past_the_ivr_carry_the_queue_node() -> None:
    async def scenario() -> list[CallPosition]:
        control = FakeControl()
        call = CallSession(channel(), control, ListJournal(), FakeClock(), datetime(2026, 11, 23, tzinfo=UTC))
        written = []
        call.mark(CallPosition("ivr", node="agent"))
        written.append(call.position)
        call.flow_node = "agent"
        call.mark(CallPosition("queued", queue="general", queued_at=datetime(2026, 11, 23, tzinfo=UTC)))
        written.append(call.position)
        call.mark(CallPosition("message", node="agent_unserved", queue="general"))
        written.append(call.position)
        call.mark(CallPosition("ivr", node="agent_unserved"))
        written.append(call.position)
        return [p for p in written if p is not None]

    positions = asyncio.run(scenario())
    assert [p.node for p in positions] == ["agent", "agent", "agent_unserved", "agent_unserved"]
    assert CallPosition.parse(positions[1].to_text()).node == "agent"


# -- a caller resumed after a controller restart whom nobody can serve ------------------------------------------


class _PlayingControl(FakeControl):
    """Every playback finishes at once."""

    def __init__(self, keys: dict[str, list[str]]) -> None:
        super().__init__()
        self.call: CallSession | None = None
        self.keys = keys  # prompt -> the keys the caller presses once it has been heard, one per hearing

    async def play(self, channel: ChannelId, media: str, playback: PlaybackId, lang: str | None = None) -> None:
        await super().play(channel, media, playback, lang)
        assert self.call is not None
        now = datetime.now(UTC)
        self.call.inbox.put_nowait(PlaybackFinished(at=now, playback_id=playback, target_uri=f"channel:{channel}",
                                                    state="done"))
        pressed = self.keys.get(media.removeprefix("sound:hotline/"))
        if pressed:
            key = pressed.pop(0)
            self.call.inbox.put_nowait(ChannelDtmfReceived(at=now, channel=self.call.channel, digit=key))


class _Dialer:
    enabled = True

    def __init__(self) -> None:
        self.booked: list[tuple[str, datetime | None]] = []

    async def book(self, call: CallSession, queue: str) -> int:
        self.booked.append((queue, call.queued_at))
        return 1


class _NobodyServes:
    """The part of QueueService the IVR channel uses: nobody serves, agents are busy."""

    def __init__(self) -> None:
        self.resumed: list[CallPosition] = []
        self.served: list[tuple[str, datetime | None, str | None]] = []

    async def resume(self, call: CallSession, position: CallPosition) -> bool:
        self.resumed.append(position)
        call.queued_at = position.queued_at
        return False

    async def serve(self, call: CallSession, queue: str, priority: int) -> bool:
        self.served.append((queue, call.queued_at, call.flow_node))
        return False

    def queue_config(self, queue: str) -> str:
        return queue

    def serving(self, config: str) -> int:
        return 1


class _Library:
    def __init__(self, flow: Flow) -> None:
        self.main = flow


def resume(position: CallPosition, keys: dict[str, list[str]] | None = None,
           dialer: _Dialer | None = None) -> tuple[list[str], list[str], _NobodyServes]:
    async def scenario() -> tuple[list[str], list[str], _NobodyServes]:
        control = _PlayingControl(keys or {})
        journal = ListJournal()
        call = CallSession(channel(), control, journal, FakeClock(), datetime(2026, 11, 23, tzinfo=UTC),
                           readopted=True)
        control.call = call
        call.resume_from = position
        queues = _NobodyServes()

        async def synthesize(text: str) -> str:
            return "tts/x"

        services = IvrServices(FakeSelfService(), FakeIncidents())
        run_ivr = ivr_call_flow(_Library(load_flow("ivr_flows/hotline.yaml")),  # type: ignore[arg-type]
                                services, "10086", synthesize, queues, None, dialer)  # type: ignore[arg-type]
        await run_ivr(call)
        played = [str(c[2]).removeprefix("sound:hotline/") for c in control.commands if c[0] == "play"]
        return played, journal.kinds(call.uid), queues

    return asyncio.run(scenario())


QUEUED = CallPosition("queued", node="agent_line", queue="general", queued_at=datetime(2026, 11, 23, 5, tzinfo=UTC))


def test_a_resumed_queued_caller_nobody_serves_goes_on_at_the_unserved_node() -> None:
    played, kinds, queues = resume(QUEUED)
    assert queues.resumed == [QUEUED]
    # No message box or dialer in this test: nothing to offer, so the offer node's fallback (the apology).
    assert played == ["agent-unavailable"]
    assert kinds.count("ivr.node") == 2 and "ivr.exit" in kinds


def test_a_resumed_position_without_its_queue_node_gets_the_apology() -> None:
    played, _, _ = resume(CallPosition("queued", queue="general", queued_at=QUEUED.queued_at))
    assert played == ["agent-unavailable"]


def test_a_resumed_caller_chooses_to_keep_waiting_then_books_a_callback_keeping_their_place() -> None:
    dialer = _Dialer()
    played, kinds, queues = resume(QUEUED, {"offer-callback-wait": ["3", "2"]}, dialer)
    assert played == ["offer-callback-wait", "offer-callback-wait", "callback-booked"]
    assert queues.served == [("general", QUEUED.queued_at, "agent_line")]  # back in the queue node's place
    assert "queue.keep_waiting" in kinds
    assert dialer.booked == [("general", QUEUED.queued_at)]


def test_a_caller_resumed_at_an_offer_keeps_their_place() -> None:
    at_offer = CallPosition("ivr", node="agent_unserved", queued_at=QUEUED.queued_at, priority=5)
    assert CallPosition.parse(at_offer.to_text()) == at_offer
    dialer = _Dialer()
    played, _, queues = resume(at_offer, {"offer-callback-wait": ["2"]}, dialer)
    assert played == ["offer-callback-wait", "callback-booked"]
    assert dialer.booked == [("general", QUEUED.queued_at)]
    assert queues.resumed == []
