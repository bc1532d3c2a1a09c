import { main } from '../../src/client/main';
import { instancesOf } from '../../src/client/services/logs';

// The parts of `driftless logs` that need no server: which instance is "previous", and the flags.

test('instancesOf lists the timeline instances newest first, each once, skipping events without one', () => {
  const at = '2026-01-01T00:00:00Z';
  const timeline = [
    { at, type: 'provisioned' as const, message: '', instanceId: 'a' },
    { at, type: 'running' as const, message: '', instanceId: 'a' },
    { at, type: 'blocked' as const, message: '' },
    { at, type: 'provisioned' as const, message: '', instanceId: 'b' },
    { at, type: 'terminated' as const, message: '', instanceId: 'a' },
    { at, type: 'running' as const, message: '', instanceId: 'c' },
  ];
  expect(instancesOf(timeline)).toEqual(['c', 'a', 'b']);
  expect(instancesOf([])).toEqual([]);
});

describe('logs flags that cannot go together are usage errors (exit 2) before anything connects', () => {
  let stderr: string;
  let spy: jest.SpyInstance;
  beforeEach(() => {
    stderr = '';
    spy = jest.spyOn(process.stderr, 'write').mockImplementation((s) => {
      stderr += String(s);
      return true;
    });
  });
  afterEach(() => spy.mockRestore());

  test.each([
    [['-f', '--json'], /--json prints one document; it cannot --follow/],
    [['-f', '--previous'], /--previous .* cannot --follow/],
    [['--tail', 'ten'], /--tail: expected a number of lines, got "ten"/],
    [['--since', 'yesterday'], /expected a duration/],
  ])('logs web %j', async (args, message) => {
    // An address nothing listens on: reaching it would be exit 3, not 2.
    const code = await main(['node', 'driftless', '--address', '127.0.0.1:1', 'logs', 'web', ...args]);
    expect([code, stderr]).toEqual([2, expect.stringMatching(message)]);
  });
});
