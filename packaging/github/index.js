#!/usr/bin/node
// GitHub Actions runner container hooks (ACTIONS_RUNNER_CONTAINER_HOOKS=/path/to/index.js) on
// agentjail: each script step of a job runs in its own `agentjail run` jail (docs/ci-github.md).
// The runner runs `node index.js` with one JSON object on stdin:
//   {command, responseFile, args, state}
// prepare_job answers in responseFile; run_script_step runs args.entryPoint with
// args.entryPointArgs; run_container_step is refused; cleanup_job has nothing to remove.
//
// The policy and the binary come from the runner's own environment (its .env file), never
// from the job: AGENTJAIL_GITHUB_POLICY (default "ci"), AGENTJAIL_BIN (default
// /usr/bin/agentjail). No npm dependencies.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const POLICY = process.env.AGENTJAIL_GITHUB_POLICY || 'ci';
const AGENTJAIL = process.env.AGENTJAIL_BIN || '/usr/bin/agentjail';
const MAX_INPUT = 16 << 20;

function fail(message, code = 125) {
  process.stderr.write(`agentjail: ${message}\n`);
  process.exit(code);
}

function readInput() {
  const input = fs.readFileSync(0);
  if (input.length > MAX_INPUT) fail('the runner\'s hook input is larger than 16 MiB');
  let request;
  try {
    request = JSON.parse(input.toString('utf8'));
  } catch (e) {
    fail(`the runner's hook input is not JSON: ${e.message}`);
  }
  if (!request || typeof request !== 'object' || typeof request.command !== 'string')
    fail('the runner\'s hook input has no command');
  return request;
}

function isPath(p) {
  return typeof p === 'string' && p.startsWith('/') && !p.includes(':') && !p.includes('\0');
}

// The runner's mounts (its work directory at /__w, externals at /__e, the job's home and
// workflow files) as agentjail options: /__w is the read-write workspace, the rest binds.
function mountOptions(mounts) {
  const options = [];
  let workspace = false;
  for (const mount of mounts || []) {
    const source = mount.sourceVolumePath, target = mount.targetVolumePath;
    if (!isPath(source) || !isPath(target)) fail(`mount ${JSON.stringify(mount)}: expected absolute paths without ':'`);
    if (target === '/__w' && !workspace) {
      options.push('-w', `${source}:${target}:rw`);
      workspace = true;
    } else {
      options.push(mount.readOnly ? '--ro' : '--rw', `${source}:${target}`);
    }
  }
  return options;
}

function prepareJob(request) {
  const args = request.args || {};
  if (args.services && args.services.length)
    fail('service containers are not supported by the agentjail hooks: run the service in a step, or use another runner');
  if (!args.container)
    fail('this job has no container: the agentjail hooks run jobs that declare `container:` (the image names nothing: steps run in agentjail\'s policy ' + POLICY + ')');
  const container = args.container;
  const mounts = [...(container.systemMountVolumes || []), ...(container.userMountVolumes || [])];
  const options = mountOptions(mounts);  // checked now: a bad mount fails the job before any step
  const check = spawnSync(AGENTJAIL, ['check', '-p', POLICY], { encoding: 'utf8' });
  if (check.status !== 0) fail(`policy ${POLICY}: ${(check.stderr || check.error || '').toString().trim()}`);
  const response = {
    state: { options, workingDirectory: isPath(container.workingDirectory) ? container.workingDirectory : '/__w' },
    context: { container: { id: `agentjail-${process.pid}`, network: 'none' }, services: [] },
    isAlpine: false,
  };
  if (!isPath(request.responseFile)) fail('prepare_job without a responseFile');
  fs.writeFileSync(request.responseFile, JSON.stringify(response), { flag: 'w', mode: 0o600 });
}

function runScriptStep(request) {
  const args = request.args || {};
  const state = request.state || {};
  if (!Array.isArray(state.options)) fail('run_script_step without the state prepare_job returned');
  if (typeof args.entryPoint !== 'string' || !args.entryPoint) fail('run_script_step without an entryPoint');
  const argv = ['run', '-p', POLICY, ...state.options];
  const cwd = isPath(args.workingDirectory) ? args.workingDirectory : state.workingDirectory;
  if (cwd) argv.push('--cwd', cwd);
  const env = Object.assign({}, args.environmentVariables || {});
  if (Array.isArray(args.prependPath) && args.prependPath.length)
    env.PATH = [...args.prependPath, env.PATH || '/usr/local/bin:/usr/bin:/bin'].join(':');
  for (const [name, value] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || typeof value !== 'string' || value.includes('\0'))
      fail(`environment variable ${JSON.stringify(name)}: not a plain NAME and string value`);
    argv.push('--env', `${name}=${value}`);
  }
  argv.push('--', args.entryPoint, ...(args.entryPointArgs || []).map(String));
  const result = spawnSync(AGENTJAIL, argv, { stdio: 'inherit', env: { PATH: '/usr/bin:/bin' } });
  if (result.error) fail(`${AGENTJAIL}: ${result.error.message}`);
  process.exit(result.status === null ? 125 : result.status);
}

const request = readInput();
switch (request.command) {
  case 'prepare_job':
    prepareJob(request);
    break;
  case 'run_script_step':
    runScriptStep(request);
    break;
  case 'run_container_step':
    fail('container steps (a `uses: docker://` action or a Docker container action) are not run by the agentjail hooks: agentjail runs commands, not images; use a script step');
    break;
  case 'cleanup_job':
    break;  // each step's jail is gone with its step; the runner removes its work directory
  default:
    fail(`unknown hook command ${JSON.stringify(request.command)}`);
}
