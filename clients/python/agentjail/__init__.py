"""agentjail: run untrusted code in jails, from Python.

    from agentjail import Sandbox
    result = Sandbox().run_code("print(6 * 7)")
    result.status, result.stdout   # ('ok', '42\\n')

Sandbox talks to `agentjail serve` when its socket answers, and runs the agentjail CLI
otherwise. agentjail.tools has the tool definitions for OpenAI, Anthropic and LangChain.
"""
from .client import (AgentjailError, LANGUAGES, RequestError, RunResult, Sandbox, SandboxError, Violation)
from .tools import ANTHROPIC_TOOLS, OPENAI_TOOLS, call_tool, handle_tool_call, langchain_tools, result_text

__all__ = [
    "AgentjailError", "LANGUAGES", "RequestError", "RunResult", "Sandbox", "SandboxError", "Violation",
    "ANTHROPIC_TOOLS", "OPENAI_TOOLS", "call_tool", "handle_tool_call", "langchain_tools", "result_text",
]
