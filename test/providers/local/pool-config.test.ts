/**
 * A local pool's `runAs` (issue 13): the user its workloads run as, given to each agent as
 * DRIFTLESS_WORKLOAD_USER. Through loadConfig, as a user's file is read.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config/config';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftless-pool-config-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function load(pools: string) {
  const configPath = join(dir, 'driftless.config.yaml');
  await writeFile(configPath, `providers:\n  local:\n    pools: ${pools}\n`);
  return loadConfig({ configPath }, {});
}

test('a pool runs its workloads as the runAs user; without runAs, as the agent (no field)', async () => {
  const c = await load('[{ name: lab, runAs: driftless-workload }, { name: own }]');
  expect(c.providers.local?.pools.map((p) => p.runAs)).toEqual(['driftless-workload', undefined]);
});

test('a runAs that is not a user name names the field', async () => {
  const err = await load('[{ name: lab, runAs: "root; rm -rf /" }]').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).message).toContain('providers.local.pools[0].runAs');
  expect((err as ConfigError).message).toContain('expected a user name');
});
