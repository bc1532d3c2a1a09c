import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// A structural check of the worker image's Dockerfile (CI has no Docker engine to build it).
const ROOT = join(__dirname, '../..');

interface Instruction {
  op: string;
  args: string;
}

/** Instructions of a Dockerfile, continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(pending);
    if (m) out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
    pending = '';
  }
  return out;
}

/** The instructions of the last stage: what the image that runs is made of. */
function finalStage(ins: Instruction[]): Instruction[] {
  const last = ins.map((i) => i.op).lastIndexOf('FROM');
  return ins.slice(last);
}

const instructions = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = finalStage(instructions);

describe('Dockerfile', () => {
  test('every stage is built from an exact Node 22 tag (major.minor.patch), never a floating one', () => {
    const froms = instructions.filter((i) => i.op === 'FROM').map((i) => i.args.split(/\s+/)[0]);
    expect(froms.length).toBeGreaterThan(0);
    for (const image of froms) expect(image).toMatch(/^node:22\.\d+\.\d+-[a-z]+(-slim)?$/);
  });

  test('the image carries the price catalogs (data/), so a worker can place on AWS and GCP', () => {
    const copies = runtime.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/));
    const data = copies.find((a) => !a[0]!.startsWith('--') && a[0]!.replace(/\/$/, '') === 'data');
    expect(data).toBeDefined();
    expect(data![1]).toMatch(/^(\.\/data|\/app\/data|data)\/?$/);
    for (const csv of ['aws.csv', 'gcp.csv']) expect(existsSync(join(ROOT, 'data/catalog', csv))).toBe(true);
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    expect(ignored.some((l) => /^\/?data(\/|$)/.test(l))).toBe(false);
  });

  test('the image runs as a non-root user', () => {
    const users = runtime.filter((i) => i.op === 'USER').map((i) => i.args.trim());
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1]!.split(':')[0]!;
    expect(['root', '0']).not.toContain(user);
    // Nothing after the last USER switches back to root.
    const lastUser = runtime.map((i) => i.op).lastIndexOf('USER');
    expect(runtime.slice(lastUser + 1).some((i) => i.op === 'USER')).toBe(false);
  });

  test('the image has a HEALTHCHECK that runs `driftless health` against the worker health file', () => {
    const hc = runtime.filter((i) => i.op === 'HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0]!.args).not.toMatch(/^NONE/i);
    expect(hc[0]!.args).toMatch(/CMD \["node", "bin\/driftless\.js", "health"/);
    expect(hc[0]!.args).toMatch(/--interval=\d+s/);
    // The worker finds the file through the variable the health command reads too.
    const env = runtime
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toMatch(/DRIFTLESS_HEALTH_FILE=\/\S+/);
  });

  test('the entrypoint is the driftless CLI and the default command the worker', () => {
    expect(runtime.find((i) => i.op === 'ENTRYPOINT')?.args).toBe('["node", "bin/driftless.js"]');
    expect(runtime.find((i) => i.op === 'CMD')?.args).toBe('["worker"]');
  });

  test('.dockerignore keeps node_modules, dist and .git out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', 'dist', '.git']) expect(ignored).toContain(p);
  });
});
