/**
 * Every recorded history in test/fixtures/histories replays against the current workflow code:
 * a change that would make a running workflow's next step differ from what its history says
 * fails here. Such a change must go behind `patched()` (see the README). Refresh the fixtures
 * with `npm run record-histories`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { WORKFLOW_BUNDLE } from '../../src/worker';

const DIR = join(__dirname, '../fixtures/histories');
const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.json')) : [];

/** The prebuilt bundle (`npm run build`), else the sources, bundled here. */
const workflowSource = () =>
  existsSync(WORKFLOW_BUNDLE)
    ? { workflowBundle: { codePath: WORKFLOW_BUNDLE } }
    : { workflowsPath: require.resolve('../../src/workflows') };

test('there are recorded histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(10);
});

test('every recorded history replays against the current workflow code', async () => {
  const histories = files.map((f) => {
    const doc = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as { workflowId: string; history: unknown };
    // Saved as protobuf JSON (enum names, base64 bytes) by test/support/global-teardown.ts.
    const history = temporal.api.history.v1.History.fromObject(doc.history as Record<string, unknown>);
    return { workflowId: `${f}:${doc.workflowId}`, history };
  });
  const failures: string[] = [];
  for await (const r of Worker.runReplayHistories(
    { ...workflowSource(), replayName: 'driftless-replay' },
    histories,
  )) {
    if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
  }
  expect(failures).toEqual([]);
}, 300_000);
