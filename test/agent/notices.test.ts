import pino from 'pino';
import { NoticeWatcher, type Notice } from '../../src/agent/notices';
import { MetadataServer } from '../support/metadata-server';
import { sleep, waitFor } from '../support/harness';

// The agent's notice watcher against a metadata service on loopback (the players' one).
let md: MetadataServer;
beforeAll(async () => {
  md = new MetadataServer();
  await md.start();
});
afterAll(() => md.stop());

function watch(source: 'aws' | 'gcp', id: string) {
  const seen: Notice[] = [];
  const w = new NoticeWatcher({
    source,
    baseUrl: md.urlFor(id),
    intervalMs: 100,
    logger: pino({ level: 'silent' }),
    onNotice: (n) => seen.push(n),
  });
  w.start();
  return { seen, w };
}

test('an AWS spot interruption notice is reported once, with its time; before it, nothing is', async () => {
  const { seen, w } = watch('aws', 'i-spot');
  try {
    await waitFor(() => (md.requests.get('i-spot') ?? 0) > 6, 'a few polls', 5000);
    expect(seen).toEqual([]);
    md.notice('i-spot', 'spot-interruption', 120_000);
    await waitFor(() => seen.length === 1, 'the notice', 5000);
    await sleep(400);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      kind: 'spot-interruption',
      detail: expect.stringMatching(/^spot interruption: terminate at 20/),
    });
  } finally {
    w.stop();
  }
});

test('an AWS rebalance recommendation and GCE preemption and maintenance notices are reported', async () => {
  const aws = watch('aws', 'i-rebalance');
  const pre = watch('gcp', 'g-pre');
  const maint = watch('gcp', 'g-maint');
  try {
    md.notice('i-rebalance', 'rebalance');
    md.notice('g-pre', 'preempted');
    md.notice('g-maint', 'maintenance');
    await waitFor(() => aws.seen.length + pre.seen.length + maint.seen.length === 3, 'three notices', 5000);
    expect(aws.seen[0]?.kind).toBe('rebalance');
    expect(pre.seen[0]?.kind).toBe('preempted');
    expect(maint.seen[0]).toMatchObject({
      kind: 'maintenance',
      detail: 'maintenance event TERMINATE_ON_HOST_MAINTENANCE',
    });
  } finally {
    for (const x of [aws, pre, maint]) x.w.stop();
  }
});

test('the settings come from the boot script: none off the clouds, the default metadata address on them', () => {
  expect(NoticeWatcher.settingsFromEnv({})).toBeUndefined();
  expect(NoticeWatcher.settingsFromEnv({ DRIFTLESS_NOTICES: 'aws' })).toEqual({
    source: 'aws',
    baseUrl: 'http://169.254.169.254',
  });
  expect(
    NoticeWatcher.settingsFromEnv({
      DRIFTLESS_NOTICES: 'gcp',
      DRIFTLESS_METADATA_URL: 'http://127.0.0.1:9/i/x/',
    }),
  ).toEqual({
    source: 'gcp',
    baseUrl: 'http://127.0.0.1:9/i/x',
  });
});
