"""The text of every prompt, in Mandarin (default) and English; wording from shared/HOTLINE_RULES.md."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prompt:
    name: str
    zh: str
    en: str

    def text(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


PROMPTS: tuple[Prompt, ...] = (
    Prompt("greeting", "您好,请问有什么可以帮您?", "Hello, how may I help you?"),
    Prompt("greeting-morning", "早上好!请问有什么可以帮您?", "Good morning! How may I help you?"),
    Prompt("goodbye", "感谢您的来电,再见!", "Thank you for calling. Goodbye!"),
    Prompt(
        "apology",
        "对不起,系统正在维护,请您稍后再拨。",
        "Sorry, our service is being maintained. Please call again later.",
    ),
    Prompt(
        "agent-unavailable",
        "对不起,人工服务暂时无法接通,请您稍后再拨。",
        "Sorry, no agent can take your call right now. Please call again later.",
    ),
    # Outside agent hours (the flow's night branch): short, then the menu; self-service never closes.
    Prompt("night-service", "您好,现在是夜间服务时间,自助查询照常为您服务。",
           "Hello, this is our night service. Self-service is open as usual."),
    Prompt("offer-message", "对不起,现在没有空闲的坐席。留言请按1;稍后再拨请挂机。",
           "Sorry, no agent is free right now. To leave a message press 1, or call again later."),
    Prompt("message-prompt", "请在提示音后留言,留言完毕请按井号键。",
           "Please leave your message after the tone, then press the hash key."),
    Prompt("message-thanks", "您的留言已收到,我们会尽快与您联系。感谢您的来电,再见!",
           "We have your message and will contact you soon. Thank you for calling. Goodbye!"),
    # All agents busy (投诉受理要求 5): a recorded message or a booked callback, or keep waiting.
    Prompt("offer-callback", "对不起,现在没有空闲的坐席。留言请按1;预约回呼请按2。",
           "Sorry, no agent is free right now. To leave a message press 1; to book a call back press 2."),
    Prompt("offer-callback-wait", "对不起,现在坐席全忙。留言请按1;预约回呼请按2;继续等待请按3。",
           "Sorry, all our agents are busy. To leave a message press 1; to book a call back press 2; "
           "to keep waiting press 3."),
    Prompt("callback-booked", "已为您预约回呼,我们的客服代表会尽快给您回电。感谢您的来电,再见!",
           "Your call back is booked: an agent will call you soon. Thank you for calling. Goodbye!"),
    Prompt("callback-connecting", "预约回呼,正在为您接通客户,请稍候。",
           "A booked call back: connecting you to the customer, please wait."),
    # The hold script (请客户等待): the agent asked for consent; the engine says the rest.
    Prompt("hold-start", "请您稍等片刻,不要挂机。", "Please hold the line for a moment."),
    Prompt("hold-reassure", "您的电话仍在保持中,客服代表马上回来,请不要挂机。",
           "You are still on hold; the agent will be back with you shortly. Please stay on the line."),
    Prompt("hold-reminder", "客户已等待较长时间,请尽快接回。",
           "The caller has been on hold for a while. Please take the call back."),
    Prompt("hold-thanks", "非常感谢您的耐心等待。", "Thank you very much for waiting."),
    # The silent-call script (无声电话) and its low-volume and noisy-line variants.
    Prompt("louder-please", "对不起,请您大声一点,好吗?", "Sorry, could you speak a little louder, please?"),
    Prompt("silent-goodbye", "对不起,您的电话没有声音,请您换一部电话打来,好吗?再见!",
           "Sorry, we cannot hear you. Please call again from another phone. Goodbye!"),
    Prompt("noisy-goodbye", "对不起!您的电话杂音太大,听不清楚,请您换一部电话挂来好吗?再见!",
           "Sorry, your line is too noisy to hear you. Please call again from another phone. Goodbye!"),
    # After the agent has hung up first (the manual's closing lines, with the weekend/holiday wish).
    Prompt("anything-else", "请问还有什么可以帮助您?", "Is there anything else I can help you with?"),
    Prompt("farewell", "感谢您的来电,再见!", "Thank you for calling. Goodbye!"),
    Prompt("farewell-weekend", "感谢您的来电,祝您周末愉快,再见!",
           "Thank you for calling. Have a nice weekend. Goodbye!"),
    Prompt("farewell-holiday", "感谢您的来电,祝您节日愉快,再见!",
           "Thank you for calling. Enjoy the holiday. Goodbye!"),
    Prompt("feature-done", "操作成功。", "Done."),
    Prompt("feature-refused", "对不起,当前状态下无法执行该操作。",
           "Sorry, that is not possible in your current state."),
    Prompt(
        "misdial",
        "对不起,这里是客户服务中心,请您查证后再拨。",
        "Sorry, this is the customer service centre. Please check the number and dial again.",
    ),
)

BY_NAME = {p.name: p for p in PROMPTS}
