import { groupMembers, identify, isAlive, killGroup } from '../../src/common/processes';
import { cleanup, spawnDetached, waitFor, waitForLine } from '../providers/local/helpers';

afterEach(cleanup);

/** Resolves with the signal that ended the child (null when it exited by itself). */
function exitSignal(child: ReturnType<typeof spawnDetached>['child']): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.signalCode);
    child.once('exit', (_code, signal) => resolve(signal));
  });
}

/**
 * A detached group leader that starts one child of its own (running `childScript`) in its
 * group; resolves once the child's pid is known.
 */
async function leaderWithChild(childScript: string) {
  const { child, identity } = spawnDetached(
    `const c=require('child_process').spawn(process.execPath,['-e',${JSON.stringify(childScript)}],{stdio:'ignore'});` +
      `console.log('child '+c.pid);setInterval(()=>{},1000)`,
  );
  const line = await new Promise<string>((resolve) =>
    child.stdout!.on('data', (d: Buffer) => resolve(d.toString().trim())),
  );
  return { child, identity, childPid: Number(line.split(' ')[1]) };
}

describe('identify', () => {
  test('returns the pid and a numeric start time for a live process', () => {
    const { identity } = spawnDetached('setInterval(()=>{},1000)');
    expect(identify(identity.pid)).toEqual({ pid: identity.pid, startTime: identity.startTime });
    expect(identity.startTime).toMatch(/^\d+$/);
  });

  test('returns undefined for a pid that does not exist', async () => {
    const { child, identity } = spawnDetached('process.exit(0)');
    await exitSignal(child);
    expect(identify(identity.pid)).toBeUndefined();
  });
});

describe('isAlive', () => {
  test('is true for a running process identified by pid and start time', () => {
    const { identity } = spawnDetached('setInterval(()=>{},1000)');
    expect(isAlive(identity)).toBe(true);
  });

  test('is false once the process has died', async () => {
    const { child, identity } = spawnDetached('setInterval(()=>{},1000)');
    process.kill(identity.pid, 'SIGKILL');
    await exitSignal(child);
    expect(isAlive(identity)).toBe(false);
  });

  test('is false for a live pid whose start time differs (a reused pid is not ours)', () => {
    const { identity } = spawnDetached('setInterval(()=>{},1000)');
    const reused = { pid: identity.pid, startTime: String(Number(identity.startTime) + 1) };
    expect(isAlive(identity)).toBe(true);
    expect(isAlive(reused)).toBe(false);
  });

  test('is false for undefined', () => {
    expect(isAlive(undefined)).toBe(false);
  });
});

describe('groupMembers', () => {
  test('lists the leader and the children that share its process group', async () => {
    const { identity, childPid } = await leaderWithChild('setInterval(()=>{},1000)');
    expect(groupMembers(identity.pid).sort()).toEqual([identity.pid, childPid].sort());
  });
});

describe('killGroup', () => {
  test('ends a group leader that exits on SIGTERM without needing SIGKILL', async () => {
    const { child, identity } = spawnDetached('setInterval(()=>{},1000)');
    const ended = exitSignal(child);
    await killGroup(identity, 5000);
    expect(isAlive(identity)).toBe(false);
    expect(await ended).toBe('SIGTERM');
  });

  test('escalates to SIGKILL within the grace time for a process that ignores SIGTERM', async () => {
    const { child, identity } = spawnDetached(
      `process.on('SIGTERM',()=>{});console.log('ready');setInterval(()=>{},1000)`,
    );
    await waitForLine(child, 'ready');
    const ended = exitSignal(child);
    const graceMs = 400;
    const t0 = Date.now();
    await killGroup(identity, graceMs);
    const elapsed = Date.now() - t0;
    expect(isAlive(identity)).toBe(false);
    expect(await ended).toBe('SIGKILL');
    // It waited out the grace time (SIGTERM was ignored) but not much longer.
    expect(elapsed).toBeGreaterThanOrEqual(graceMs);
    expect(elapsed).toBeLessThan(graceMs + 2000);
  });

  test('kills the children in the group as well as the leader', async () => {
    const { identity, childPid } = await leaderWithChild(
      "process.on('SIGTERM',()=>{});setInterval(()=>{},1000)",
    );
    const grandchild = identify(childPid);
    expect(isAlive(grandchild)).toBe(true);
    await killGroup(identity, 300);
    expect(isAlive(identity)).toBe(false);
    expect(isAlive(grandchild)).toBe(false);
    expect(groupMembers(identity.pid)).toEqual([]);
  });

  test('still reaches group members that outlived their killed leader', async () => {
    const { child, identity, childPid } = await leaderWithChild('setInterval(()=>{},1000)');
    const orphan = identify(childPid);
    const leaderGone = exitSignal(child);
    process.kill(identity.pid, 'SIGKILL'); // the leader only, not the group
    await leaderGone;
    expect(isAlive(orphan)).toBe(true);
    await killGroup(identity, 2000);
    await waitFor(() => !isAlive(orphan), 'the orphaned group member to die', 2000);
    expect(isAlive(orphan)).toBe(false);
  });

  test('leaves alone a live process whose pid matches but whose start time does not', async () => {
    const { identity } = spawnDetached('setInterval(()=>{},1000)');
    await killGroup({ pid: identity.pid, startTime: String(Number(identity.startTime) + 1) }, 100);
    expect(isAlive(identity)).toBe(true);
  });

  test('returns at once for undefined or an already dead process', async () => {
    const { child, identity } = spawnDetached('process.exit(0)');
    await exitSignal(child);
    const t0 = Date.now();
    await killGroup(undefined);
    await killGroup(identity, 5000);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
