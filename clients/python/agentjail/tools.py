"""Tool definitions for agent frameworks, and the function that answers their calls.

The same two tools `agentjail mcp` offers, run_code and run_command, in the shapes OpenAI
(function tools), Anthropic (tools with input_schema) and LangChain (StructuredTool's
arguments, without importing LangChain) take. The model chooses the code and, within the
policy's limit, the time; never the policy: that is the operator's choice, made when the
Sandbox is created.
"""
import json
from typing import Any, Callable, Dict, List, Optional

from .client import RunResult, Sandbox

RUN_CODE_DESCRIPTION = (
    "Run a Python, Node.js or shell program in a fresh sandbox and get its exit status, stdout and stderr. "
    "The sandbox has no network and a read-only system; nothing persists between calls."
)
RUN_COMMAND_DESCRIPTION = "Run one command (a list of arguments, no shell) in a fresh sandbox and get its exit status and output."

RUN_CODE_SCHEMA = {
    "type": "object",
    "properties": {
        "language": {"type": "string", "enum": ["python", "node", "shell"], "description": "The program's language."},
        "code": {"type": "string", "description": "The complete program."},
        "stdin": {"type": "string", "description": "Standard input of the program."},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "description": "Wall-time limit in seconds."},
    },
    "required": ["language", "code"],
    "additionalProperties": False,
}
RUN_COMMAND_SCHEMA = {
    "type": "object",
    "properties": {
        "argv": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "Program and arguments."},
        "stdin": {"type": "string", "description": "Standard input of the command."},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "description": "Wall-time limit in seconds."},
    },
    "required": ["argv"],
    "additionalProperties": False,
}
TOOLS = [
    ("run_code", RUN_CODE_DESCRIPTION, RUN_CODE_SCHEMA),
    ("run_command", RUN_COMMAND_DESCRIPTION, RUN_COMMAND_SCHEMA),
]

# OpenAI Chat Completions "tools" entries (function tools).
OPENAI_TOOLS = [{"type": "function", "function": {"name": name, "description": description, "parameters": schema}}
                for name, description, schema in TOOLS]
# Anthropic Messages API "tools" entries.
ANTHROPIC_TOOLS = [{"name": name, "description": description, "input_schema": schema} for name, description, schema in TOOLS]


def result_text(result: RunResult, max_output: int = 8192) -> str:
    """A run's answer for the model: status, exit code, output (head and tail when long),
    refused system calls and warnings, as compact JSON."""
    def cut(text):
        if len(text) <= max_output:
            return text
        half = max_output // 2
        return f"{text[:half]}\n[... {len(text) - 2 * half} characters left out ...]\n{text[-half:]}"
    answer: Dict[str, Any] = {"status": result.status, "exit_code": result.exit_code, "signal": result.signal,
                              "stdout": cut(result.stdout), "stderr": cut(result.stderr)}
    if result.stdout_truncated or result.stderr_truncated:
        answer["note"] = "output was cut at the sandbox's limit"
    if result.violations:
        answer["blocked_syscalls"] = sorted({v.syscall for v in result.violations})
    if result.warnings:
        answer["warnings"] = result.warnings
    if result.error:
        answer["error"] = result.error
    return json.dumps(answer)


def call_tool(sandbox: Sandbox, name: str, arguments: Dict[str, Any]) -> RunResult:
    """Runs one tool call (the model's arguments, as the schemas above describe them)."""
    arguments = dict(arguments or {})
    if name == "run_code":
        allowed = {"language", "code", "stdin", "timeout"}
    elif name == "run_command":
        allowed = {"argv", "stdin", "timeout"}
    else:
        raise ValueError(f"unknown tool {name!r} (run_code, run_command)")
    extra = set(arguments) - allowed
    if extra:
        raise ValueError(f"{name} takes no argument {sorted(extra)[0]!r}")
    if name == "run_code":
        return sandbox.run_code(arguments["code"], arguments.get("language", "python"),
                                stdin=arguments.get("stdin"), timeout=arguments.get("timeout"))
    argv = arguments.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("argv must be a non-empty list of strings")
    return sandbox.run(argv, stdin=arguments.get("stdin"), timeout=arguments.get("timeout"))


def handle_tool_call(sandbox: Sandbox, name: str, arguments: Any) -> str:
    """call_tool, answered as text for any framework: `arguments` may be the JSON string OpenAI
    sends or a dict; bad arguments become an error text the model can read."""
    try:
        if isinstance(arguments, str):
            arguments = json.loads(arguments or "{}")
        return result_text(call_tool(sandbox, name, arguments))
    except (ValueError, KeyError, TypeError) as e:
        return json.dumps({"error": f"bad arguments: {e}"})


def langchain_tools(sandbox: Sandbox) -> List[Dict[str, Any]]:
    """Keyword arguments for LangChain's StructuredTool.from_function, one dict per tool:
    name, description, args_schema (JSON Schema, which langchain-core takes as a dict) and func.

        from langchain_core.tools import StructuredTool
        tools = [StructuredTool.from_function(**spec) for spec in langchain_tools(Sandbox())]
    """
    def make(name: str) -> Callable[..., str]:
        def func(**kwargs) -> str:
            return handle_tool_call(sandbox, name, kwargs)
        func.__name__ = name
        return func
    return [{"name": name, "description": description, "args_schema": schema, "func": make(name)}
            for name, description, schema in TOOLS]
