import { describeMany } from '../../src/providers/describe-many';
import type { InstanceRef, InstanceState, Provider } from '../../src/providers/types';

// Pure logic: a provider stand-in that answers from a table.
const ref = (id: string): InstanceRef => ({ provider: 'p', id, region: 'r', zone: 'z' });

function provider(states: Record<string, InstanceState | Error>, batch?: Provider['describeMany']) {
  let inFlight = 0;
  let most = 0;
  const calls: string[] = [];
  const p = {
    name: 'p',
    async describe(r: InstanceRef) {
      calls.push(r.id);
      most = Math.max(most, ++inFlight);
      await new Promise((res) => setTimeout(res, 5));
      inFlight--;
      const s = states[r.id];
      if (s instanceof Error) throw s;
      return s ?? 'not-found';
    },
    ...(batch ? { describeMany: batch } : {}),
  } as unknown as Provider;
  return { p, calls, most: () => most };
}

test('without a batch call, each instance is described, a few at a time, and one that fails is left out', async () => {
  const states: Record<string, InstanceState | Error> = {};
  for (let i = 0; i < 40; i++) states[`i-${i}`] = i === 7 ? new Error('throttled') : 'running';
  const { p, calls, most } = provider(states);
  const errors: string[] = [];
  const out = await describeMany(p, Object.keys(states).map(ref), undefined, (r, e) =>
    errors.push(`${r?.id}: ${e.message}`),
  );
  expect(calls).toHaveLength(40);
  expect(most()).toBeLessThanOrEqual(16);
  expect(out.size).toBe(39);
  expect(out.has('i-7')).toBe(false);
  expect(out.get('i-8')).toBe('running');
  expect(errors).toEqual(['i-7: throttled']);
});

test("the provider's batch call is used when it has one, and its failure tells nothing", async () => {
  const batch = jest.fn(
    async (refs: InstanceRef[]) => new Map(refs.map((r) => [r.id, 'running' as InstanceState])),
  );
  const { p, calls } = provider({}, batch);
  const out = await describeMany(p, [ref('a'), ref('b')]);
  expect(batch).toHaveBeenCalledTimes(1);
  expect(calls).toEqual([]);
  expect([...out]).toEqual([
    ['a', 'running'],
    ['b', 'running'],
  ]);
  const failing = provider({}, async () => {
    throw new Error('down');
  });
  expect((await describeMany(failing.p, [ref('a')])).size).toBe(0);
});
