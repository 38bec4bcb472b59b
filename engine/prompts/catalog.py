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
    Prompt("offer-message", "对不起,现在没有空闲的坐席。留言请按1;稍后再拨请挂机。",
           "Sorry, no agent is free right now. To leave a message press 1, or call again later."),
    Prompt("message-prompt", "请在提示音后留言,留言完毕请按井号键。",
           "Please leave your message after the tone, then press the hash key."),
    Prompt("message-thanks", "您的留言已收到,我们会尽快与您联系。感谢您的来电,再见!",
           "We have your message and will contact you soon. Thank you for calling. Goodbye!"),
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
