// The package as it would be published: `npm pack`, installed from the tarball into an empty
// project (offline: it has no dependencies), imported from Node as an ES module, and its types
// checked by `tsc --strict` in a TypeScript file that uses them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = path.join(packageDir, 'node_modules', 'typescript', 'bin', 'tsc');

const USE = `
import createSSEClient, { SSEClient, EVENT_TYPES, type CapacityUpdateData, type ConnectionState } from '@parkstream/sse-client';

const controller = new AbortController();
const client: SSEClient = createSSEClient({
  url: 'https://parking.example/api/sse/dashboard',
  lots: ['lot_1'],
  headers: { Authorization: 'Bearer token' },
  signal: controller.signal,
  maxAttempts: Infinity,
  maxReconnectDelay: 30_000,
});
const off: () => void = client.onCapacityUpdate((data: CapacityUpdateData, meta) => {
  const free: number = data.empty;
  const id: string | undefined = meta.id;
  console.log(free, id);
});
client.onStateChange((state, info) => {
  if (state === 'reconnecting') {
    const at: number = info.retryAt;
    console.log(at);
  }
});
const state: ConnectionState = client.state;
const first: string = EVENT_TYPES[0];
off();
console.log(state, first);
`;

test('the packed tarball installs offline, imports from Node and type-checks under tsc --strict', { timeout: 120_000 }, async () => {
  const work = await mkdtemp(path.join(tmpdir(), 'parkstream-pack-'));
  try {
    const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', work], { cwd: packageDir });
    const [packed] = JSON.parse(stdout);
    const shipped = packed.files.map((f) => f.path).sort();
    assert.deepEqual(shipped, [
      'README.md',
      'lib/client.js',
      'lib/fetch-transport.js',
      'lib/options.js',
      'package.json',
      'sse-client.d.ts',
      'sse-client.js',
    ]);

    const project = path.join(work, 'project');
    await run('mkdir', [project]);
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await run(npm, ['install', '--offline', '--no-audit', '--no-fund', path.join(work, packed.filename)], { cwd: project });
    const installed = JSON.parse(await readFile(path.join(project, 'node_modules/@parkstream/sse-client/package.json'), 'utf8'));
    assert.equal(installed.version, '0.1.0');

    const { stdout: imported } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import createSSEClient, { SSEClient, EVENT_TYPES } from '@parkstream/sse-client';" +
          "const c = createSSEClient({ url: 'http://127.0.0.1:1/x' });" +
          'console.log(JSON.stringify([typeof createSSEClient, c instanceof SSEClient, c.state, EVENT_TYPES.length]));',
      ],
      { cwd: project },
    );
    assert.deepEqual(JSON.parse(imported), ['function', true, 'idle', 6]);

    await writeFile(path.join(project, 'use.ts'), USE);
    await run(
      process.execPath,
      [tsc, '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', 'use.ts'],
      { cwd: project },
    ).catch((error) => {
      throw new Error(`tsc failed:\n${error.stdout}${error.stderr}`);
    });

    // A misuse is caught: the types are really in effect.
    await writeFile(path.join(project, 'bad.ts'), "import { createSSEClient } from '@parkstream/sse-client';\ncreateSSEClient({ maxAttempts: 'forever' });\n");
    await assert.rejects(
      run(process.execPath, [tsc, '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', 'bad.ts'], { cwd: project }),
      (error) => /bad\.ts\(2,.*TS2322/.test(error.stdout),
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
