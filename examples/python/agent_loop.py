"""The tool-calling loop of an agent that runs its code in agentjail, with a stubbed model.

Run it: python3 examples/python/agent_loop.py   (AGENTJAIL=/path/to/agentjail if not on PATH)

The messages have the shape of Anthropic's Messages API: the model answers with a
"tool_use" block, we run the tool and send a "tool_result" block back, until the model
answers with text only. With OpenAI's Chat Completions the loop is the same: the model's
message carries `tool_calls` (arguments as a JSON string), and each answer is a message
with role "tool" and the call's `tool_call_id`. To use a real model, replace StubModel
with a client call that passes `tools=[ANTHROPIC_TOOL]` (or `tools=[OPENAI_TOOL]`).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentjail_tool import ANTHROPIC_TOOL, run_code, tool_result_text  # noqa: E402


class StubModel:
    """Stands in for a model: first asks to run code, then answers from the tool's result."""

    def create(self, messages, tools):
        assert tools == [ANTHROPIC_TOOL]
        last = messages[-1]
        if last["role"] == "user" and isinstance(last["content"], str):
            return {"role": "assistant", "stop_reason": "tool_use", "content": [
                {"type": "text", "text": "I'll compute that in the sandbox."},
                {"type": "tool_use", "id": "toolu_1", "name": "run_code",
                 "input": {"language": "python",
                           "code": "import math\nprint(sum(math.factorial(n) for n in range(10)))"}},
            ]}
        result = json.loads(last["content"][0]["content"])
        if result["status"] != "ok":
            text = f"The program did not finish: {result['status']}."
        else:
            text = f"The sum of 0! through 9! is {result['stdout'].strip()}."
        return {"role": "assistant", "stop_reason": "end_turn", "content": [{"type": "text", "text": text}]}


def agent(question, model, max_turns=5):
    messages = [{"role": "user", "content": question}]
    for _ in range(max_turns):
        reply = model.create(messages, tools=[ANTHROPIC_TOOL])
        messages.append({"role": "assistant", "content": reply["content"]})
        calls = [block for block in reply["content"] if block["type"] == "tool_use"]
        if not calls:
            return "".join(block["text"] for block in reply["content"] if block["type"] == "text")
        results = []
        for call in calls:
            # The model picks code, language, files and timeout; the policy stays ours.
            report = run_code(**call["input"])
            results.append({"type": "tool_result", "tool_use_id": call["id"], "content": tool_result_text(report),
                            "is_error": report["status"] != "ok"})
        messages.append({"role": "user", "content": results})
    raise RuntimeError("the model did not finish within max_turns")


if __name__ == "__main__":
    print(agent("What is the sum of the factorials of 0 through 9?", StubModel()))
