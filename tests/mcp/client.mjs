// A real MCP client for `agentjail mcp`: the official TypeScript SDK's Client over its
// StdioClientTransport. Usage: node client.mjs COMMAND [ARGS...] (the server to spawn).
// Prints one JSON object with what the server answered; tests/integration/test_mcp.py checks it.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [command, ...args] = process.argv.slice(2);
const transport = new StdioClientTransport({ command, args, stderr: "inherit" });
const client = new Client({ name: "agentjail-test", version: "1.0.0" });
await client.connect(transport);

// connect() has negotiated the protocol revision: the SDK refuses a server whose answer it
// does not support.
const out = {
  serverVersion: client.getServerVersion(),
  instructions: client.getInstructions(),
  capabilities: client.getServerCapabilities(),
};
out.tools = (await client.listTools()).tools;
out.runCode = await client.callTool({
  name: "run_code",
  arguments: { language: process.env.MCP_LANGUAGE ?? "python", code: process.env.MCP_CODE ?? "print(6 * 7)" },
});
out.runCommand = await client.callTool({
  name: "run_command",
  arguments: { argv: JSON.parse(process.env.MCP_ARGV ?? '["echo", "hello"]') },
});
out.failing = await client.callTool({
  name: "run_command",
  arguments: { argv: JSON.parse(process.env.MCP_FAILING_ARGV ?? '["fail", "3"]') },
});
try {
  await client.callTool({ name: "run_command", arguments: { argv: [] } });
  out.badArguments = null;
} catch (error) {
  out.badArguments = { code: error.code, message: error.message };
}
try {
  await client.callTool({ name: "no_such_tool", arguments: {} });
  out.unknownTool = null;
} catch (error) {
  out.unknownTool = { code: error.code, message: error.message };
}
out.ping = await client.ping();
await client.close();
console.log(JSON.stringify(out));
