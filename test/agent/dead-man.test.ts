import pino from 'pino';
import { DEFAULT_DEAD_MAN_TIMEOUT_MS, DeadMansSwitch, deadManTimeoutFromEnv } from '../../src/agent/dead-man';

const logger = pino({ level: 'silent' });
// Fake timers (and clock): the margins below are tens of milliseconds, which a loaded machine's
// pauses would eat with real ones. Advancing also runs the probes' promise callbacks.
beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());
const sleep = (ms: number) => jest.advanceTimersByTimeAsync(ms);

/** A switch over a probe whose answer the test sets; records when it fired. */
function harness(timeoutMs: number) {
  let up = true;
  let probes = 0;
  const fired: number[] = [];
  const started = Date.now();
  const sw = new DeadMansSwitch({
    timeoutMs,
    intervalMs: 10,
    logger,
    probe: async () => {
      probes++;
      if (!up) throw new Error('UNAVAILABLE');
    },
    onExpire: (silentMs) => {
      fired.push(silentMs);
    },
  });
  return {
    sw,
    fired,
    started,
    probes: () => probes,
    setUp: (v: boolean) => (up = v),
  };
}

test('fires once, after the control plane has been silent for the timeout', async () => {
  const h = harness(150);
  h.setUp(false);
  h.sw.start();
  await sleep(80);
  expect(h.fired).toEqual([]);
  await sleep(250);
  expect(h.fired).toHaveLength(1);
  expect(h.fired[0]).toBeGreaterThanOrEqual(150);
  expect(h.sw.expired).toBe(true);
  const probes = h.probes();
  await sleep(60);
  expect(h.probes()).toBe(probes); // no probing after it fired
  h.sw.stop();
});

test('does not fire while the control plane answers', async () => {
  const h = harness(60);
  h.sw.start();
  await sleep(250);
  expect(h.probes()).toBeGreaterThan(5);
  expect(h.fired).toEqual([]);
  h.sw.stop();
});

test('an answer in between restarts the clock: failures shorter than the timeout never fire', async () => {
  const h = harness(120);
  h.sw.start();
  for (let i = 0; i < 4; i++) {
    h.setUp(false);
    await sleep(70);
    h.setUp(true);
    await sleep(40);
  }
  expect(h.fired).toEqual([]);
  h.sw.stop();
});

test('stop() before the timeout keeps it from firing', async () => {
  const h = harness(100);
  h.setUp(false);
  h.sw.start();
  await sleep(40);
  h.sw.stop();
  await sleep(150);
  expect(h.fired).toEqual([]);
});

describe('DRIFTLESS_DEAD_MAN_TIMEOUT', () => {
  test.each([
    [undefined, DEFAULT_DEAD_MAN_TIMEOUT_MS],
    ['', DEFAULT_DEAD_MAN_TIMEOUT_MS],
    ['90s', 90_000],
    ['10m', 600_000],
    ['off', undefined],
    ['0', undefined],
  ])('%p -> %p', (raw, ms) => {
    expect(deadManTimeoutFromEnv({ DRIFTLESS_DEAD_MAN_TIMEOUT: raw })).toBe(ms);
  });

  test('a value that is not a duration is refused, naming the variable', () => {
    expect(() => deadManTimeoutFromEnv({ DRIFTLESS_DEAD_MAN_TIMEOUT: 'soon' })).toThrow(
      /DRIFTLESS_DEAD_MAN_TIMEOUT: expected a duration such as "10m", or "off", got "soon"/,
    );
  });
});

test('a probe that never answers counts as a failure at its deadline', async () => {
  const fired: number[] = [];
  const sw = new DeadMansSwitch({
    timeoutMs: 100,
    intervalMs: 20,
    logger,
    probe: () => new Promise<void>(() => undefined), // a client reconnecting forever
    onExpire: (silentMs) => {
      fired.push(silentMs);
    },
  });
  sw.start();
  await sleep(400);
  expect(fired).toHaveLength(1);
  expect(fired[0]).toBeLessThan(300);
  sw.stop();
});
