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

/** The patch ids the workflow code declares (`const PATCH_... = 'id'`). */
function declaredPatches(): string[] {
  const root = join(__dirname, '../../src/workflows');
  const ids: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/const PATCH_\w+ = '([^']+)'/g)) ids.push(m[1]!);
      }
    }
  };
  walk(root);
  return ids;
}

/** The patch ids recorded in a history file (core writes each as a `core_patch` marker). */
function recordedPatches(file: string): string[] {
  const doc = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as {
    history: {
      events: Array<{ markerRecordedEventAttributes?: { markerName?: string; details?: unknown } }>;
    };
  };
  const ids: string[] = [];
  for (const e of doc.history.events) {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_patch') continue;
    const details = m.details as { 'patch-data'?: { payloads?: Array<{ data?: string }> } };
    const data = details['patch-data']?.payloads?.[0]?.data;
    if (data) ids.push((JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string }).id);
  }
  return ids;
}

test('every patched path of the workflow has a recorded history that took it', () => {
  const declared = declaredPatches();
  expect(declared.length).toBeGreaterThanOrEqual(10);
  const recorded = new Set(files.flatMap(recordedPatches));
  expect(declared.filter((id) => !recorded.has(id))).toEqual([]);
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

// Summaries (issue 16) are user metadata on commands, not commands: core does not compare them on
// replay, so histories recorded before them replay, and a summary's words can change freely.
test('some recorded histories carry activity summaries (user metadata), and they replay with the rest', () => {
  const withSummaries = files.filter((f) => {
    const doc = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as {
      history: {
        events: Array<{
          activityTaskScheduledEventAttributes?: unknown;
          userMetadata?: { summary?: unknown };
        }>;
      };
    };
    return doc.history.events.some((e) => e.activityTaskScheduledEventAttributes && e.userMetadata?.summary);
  });
  expect(withSummaries.length).toBeGreaterThanOrEqual(1);
});
