/**
 * The Temporal Web UI tells a workload's story (issue 16): after a restart in place and a
 * failover, the workflow carries its static summary and details, every activity and timer a
 * summary, and current details naming where it runs now. Read through the client (describe, the
 * history's events, the workflow metadata query) and in a real browser (headless Chromium,
 * puppeteer-core) on the Web UI of a dev server this file starts for itself.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { freePort, startDevServer, type DevServer } from '../../src/client/services/dev-server';
import { useE2eInstallation } from '../support/e2e';
import { serviceSpec, waitFor, workloadProcesses, type StatusJson } from '../support/harness';

const NAME = 'wui-svc';
/** Never shown anywhere: env values can be secrets. */
const SECRET = `not-for-the-ui-${process.pid}`;

let server: DevServer | undefined;
let addressBefore: string | undefined;
const logFile = join(tmpdir(), `driftless-webui-temporal-${process.pid}.log`);

// A dev server with its Web UI, started before the installation so its worker and CLI use it.
beforeAll(async () => {
  server = await startDevServer({
    port: await freePort(),
    uiPort: await freePort(),
    logFile,
    readyTimeoutMs: 120_000,
  });
  addressBefore = process.env.TEMPORAL_TEST_ADDRESS;
  process.env.TEMPORAL_TEST_ADDRESS = server.address;
}, 150_000);

const e2e = useE2eInstallation({
  pools: [
    { name: 'cheap', pricePerGpuHour: 1 },
    { name: 'dear', pricePerGpuHour: 2 },
  ],
  client: true,
});

// After the installation's own teardown (jest runs afterAll hooks in the order they are declared).
afterAll(async () => {
  if (addressBefore !== undefined) process.env.TEMPORAL_TEST_ADDRESS = addressBefore;
  await server?.stop();
});

/** What the failover left: the workload's final view and the instance it lost. */
interface Story {
  before: StatusJson;
  after: StatusJson;
}
let story: Promise<Story> | undefined;

/**
 * Runs once: the workload starts on the cheap pool, its process is killed (a restart in place
 * after a backoff: a timer), then the cheap pool goes down and it moves to the dear one.
 */
function failover(): Promise<Story> {
  story ??= (async () => {
    e2e.stopAtEnd(NAME);
    const spec = serviceSpec(NAME, {
      env: { API_TOKEN: SECRET },
      recovery: { maxRestarts: 2, cooldown: '5m', backoff: { initial: '2s', max: '4s' }, drain: '2s' },
    });
    const applied = await e2e.apply(spec, '--wait', '--timeout', '60s', '--json');
    const first = JSON.parse(applied.stdout) as StatusJson;
    expect(first.pool).toBe('cheap');
    const [pid] = workloadProcesses(NAME);
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    const before = await e2e.waitStatus(
      NAME,
      (s) => s.phase === 'RUNNING' && (s.status?.restarts ?? 0) >= 1,
      `${NAME} restarted in place`,
      { timeoutMs: 60_000 },
    );
    const down = await e2e.cli(['pool', 'down', 'cheap']);
    expect(down.code).toBe(0);
    try {
      const after = await e2e.waitRunning(NAME, { not: before.instanceId, timeoutMs: 60_000 });
      return { before, after };
    } finally {
      await e2e.cli(['pool', 'up', 'cheap']);
    }
  })();
  return story;
}

/** A user-metadata payload's text. */
function text(p: temporal.api.common.v1.IPayload | null | undefined): string | undefined {
  return p ? defaultPayloadConverter.fromPayload<string>(p) : undefined;
}

/** The workflow's current details, through the SDK's built-in workflow metadata query. */
async function queriedDetails(): Promise<string> {
  const handle = e2e.client.workflow.getHandle(`workload-${NAME}`);
  const md = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return md.currentDetails ?? '';
}

test('after a failover the client reads the workflow summary, a summary on every activity and timer, and current details naming the new location', async () => {
  const { before, after } = await failover();
  expect(after.pool).toBe('dear');
  const handle = e2e.client.workflow.getHandle(`workload-${NAME}`);
  const desc = await handle.describe();
  expect(await desc.staticSummary()).toBe(`${NAME} · service · 1× A100 · any provider`);
  const details = (await desc.staticDetails()) ?? '';
  expect(details).toContain('**Resources**: gpu A100:1');
  expect(details).toContain('backoff 2s..4s');
  expect(details).toContain('1 env variables, values not shown');

  const history = await handle.fetchHistory();
  const scheduled: string[] = [];
  const timers: string[] = [];
  const missing: string[] = [];
  for (const ev of history.events ?? []) {
    const summary = text(ev.userMetadata?.summary);
    const activity = ev.activityTaskScheduledEventAttributes?.activityType?.name;
    if (activity) (summary ? scheduled : missing).push(summary ?? `activity ${activity} #${ev.eventId}`);
    if (ev.timerStartedEventAttributes) (summary ? timers : missing).push(summary ?? `timer #${ev.eventId}`);
  }
  expect(missing).toEqual([]);
  console.log(`summaries:\n${[...scheduled, ...timers].join('\n')}`);
  expect(scheduled).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^place: rank the offers for 1× A100/),
      expect.stringMatching(/^provision attempt 1: local\/cheap \S+ at \$1\.00\/h$/),
      expect.stringMatching(/^provision attempt 2: local\/dear \S+ at \$2\.00\/h$/),
      expect.stringMatching(/^wait until l\w+… is ready \(grace 30s\)$/),
      expect.stringMatching(/^start the workload on l\w+… \(local\/cheap\)$/),
      expect.stringMatching(/^restart the workload on l\w+… \(restart 1 here\)$/),
      expect.stringMatching(/^supervise l\w+… on local\/dear$/),
      expect.stringMatching(/^terminate l\w+… \(lost: /),
    ]),
  );
  expect(timers).toEqual(
    expect.arrayContaining([expect.stringMatching(/^restart backoff 2s \(restart 1 of 2\)$/)]),
  );

  const current = await queriedDetails();
  expect(current).toMatch(/^\*\*RUNNING\*\* on local\/dear since \d\d:\d\d:\d\d UTC/);
  expect(current).toContain(`- instance ${after.instanceId} `);
  expect(current).toContain('- rate $2.00/h\n- cost so far $');
  expect(current).toContain('blocked: local/cheap until');
  expect(current).toContain(`running: running on local/dear as ${after.instanceId}`);
  expect(current).not.toContain(before.instanceId!);
  expect(current).toMatch(/waiting on: (supervise|hand) /);

  // The secret is nowhere: not in the summaries, the details or the current details.
  const everything = [await desc.staticSummary(), details, ...scheduled, ...timers, current].join('\n');
  expect(everything).not.toContain(SECRET);

  // `driftless status` prints the same text (JSON: a field added; human: verbatim).
  const same = await waitFor(
    async () => {
      const [s, q] = [await e2e.status(NAME), await queriedDetails()];
      return s.details === q ? s : undefined;
    },
    'status --json details equal to the current details',
    20_000,
  );
  expect(same.details).toContain('on local/dear');
  const human = await e2e.cli(['status', NAME]);
  expect(human.code).toBe(0);
  expect(human.stdout).toContain(same.details!.split('\n').slice(0, 2).join('\n'));
});

/** The system's Chromium (Debian's package; `.ci/run` installs it where missing). */
function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/lib/chromium/chromium', '/usr/bin/chromium'];
  const found = candidates.find((p): p is string => !!p && existsSync(p));
  if (!found) throw new Error('no Chromium: apt-get install -y chromium (or set CHROMIUM_PATH)');
  return found;
}

/** Waits until the page's text matches every pattern; a timeout says what the page showed. */
async function waitForText(page: Page, wanted: RegExp[], what: string, ms = 60_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    // The page and its frames: the Web UI renders markdown in frames of its own.
    const texts = await Promise.all(
      page
        .frames()
        .map((f) =>
          f.$eval('body', (b) => (b as unknown as { innerText: string }).innerText).catch(() => ''),
        ),
    );
    const seen = texts.join('\n');
    if (wanted.every((w) => w.test(seen))) return seen;
    if (Date.now() > deadline) {
      throw new Error(
        `the Web UI's ${what} did not show ${wanted.filter((w) => !w.test(seen)).join(' and ')} ` +
          `within ${ms / 1000}s; it showed:\n${seen.slice(0, 4000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Saves a screenshot in the test's directory and, with WEBUI_SCREENSHOT=DIR, as DIR/NAME too. */
async function screenshot(page: Page, name: string): Promise<void> {
  const png = await page.screenshot({ type: 'png' });
  writeFileSync(join(e2e.dir, name), png);
  expect(existsSync(join(e2e.dir, name))).toBe(true);
  const keep = process.env.WEBUI_SCREENSHOT;
  if (keep) {
    mkdirSync(keep, { recursive: true });
    writeFileSync(join(keep, name), png);
  }
}

test("the Web UI's workflow page shows the provision summary and the current details; screenshots are saved", async () => {
  const { after } = await failover();
  const details = await queriedDetails();
  const url =
    `${server!.uiUrl}/namespaces/default/workflows/` +
    `${encodeURIComponent(after.workflowId)}/${encodeURIComponent(after.runId)}/history`;
  let browser: Browser | undefined;
  try {
    browser = await puppeteer.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1440, height: 1000 });
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    // An SPA: its texts come after the page; the deadlines stay well inside jest's.
    await waitForText(
      page,
      [/provision attempt 2: local\/dear/, /supervise l\w+… on local\/dear/],
      'history',
    );
    // The timeline of activities and timers with their summaries, for the README.
    await page.setViewport({ width: 1440, height: 1500 });
    await page.goto(url.replace(/\/history$/, '/timeline'), { waitUntil: 'domcontentloaded' });
    await waitForText(page, [/restart backoff 2s/], 'Timeline tab', 20_000).catch(() => undefined);
    await screenshot(page, 'webui-failover.png');
    await page.setViewport({ width: 1440, height: 1000 });
    await page.locator('::-p-text(User Metadata)').click();
    const seen = await waitForText(
      page,
      [/RUNNING on local\/dear since/, /Last events/],
      'User Metadata tab',
    );
    expect(seen).toContain(`instance ${after.instanceId} (`);
    const instanceLine = details.split('\n').find((l) => l.startsWith('- instance '));
    expect(seen).toContain(instanceLine!.replace(/^- /, ''));
    expect(seen).toMatch(/cost so far \$\d/);
    await screenshot(page, 'webui-details.png');
  } finally {
    await browser?.close();
  }
});
