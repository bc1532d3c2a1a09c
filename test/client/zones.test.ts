import { DescribeAvailabilityZonesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cli, makeEnv, type TestEnv } from '../support/harness';
import { MOTO_CREDENTIALS, motoEnv, startMoto, type MotoServer } from '../support/moto';

// `offers --zone` with a configured AWS (moto's EC2): a zone name of this account and its AZ id
// select the same offers. No worker: offers lists what placement would consider.
const REGION = 'us-east-1';
let moto: MotoServer;
let env: TestEnv;
/** This account's zone name of use1-az1 (moto's own mapping). */
let az1Name: string;

beforeAll(async () => {
  moto = await startMoto();
  const ec2 = new EC2Client({ region: REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
  const res = await ec2.send(new DescribeAvailabilityZonesCommand({ ZoneIds: ['use1-az1'] }));
  ec2.destroy();
  az1Name = res.AvailabilityZones![0]!.ZoneName!;
  env = await makeEnv([{ name: 'lab' }], {
    catalog: { maxAge: 'off' },
    providers: {
      aws: { regions: [REGION], endpoint: moto.endpoint, images: { [REGION]: 'ami-any' }, agentInstall: '' },
    },
  });
  env.env = {
    ...env.env,
    XDG_CACHE_HOME: join(env.dir, 'cache'),
    ...motoEnv(),
  };
}, 120_000);

afterAll(async () => {
  await env?.cleanup();
  await moto?.stop();
});

interface Rows {
  rows: Array<{ provider: string; zone: string; zoneName?: string; instanceType: string }>;
}

async function offers(...args: string[]): Promise<Rows> {
  const r = await cli(['offers', '--provider', 'aws', '--limit', '0', ...args, '--json'], env.env);
  expect(r.code).toBe(0);
  // (The AWS SDK may warn about the Node version; no zone warning, though.)
  expect(r.stderr).not.toMatch(/zone/);
  return JSON.parse(r.stdout) as Rows;
}

test('a zone name and its AZ id select the same offers of a configured aws', async () => {
  const byId = await offers('--zone', 'use1-az1');
  const byName = await offers('--zone', az1Name);
  expect(byId.rows.length).toBeGreaterThan(0);
  expect(byName.rows).toEqual(byId.rows);
  expect(byName.rows.every((x) => x.zone === 'use1-az1' && x.zoneName === az1Name)).toBe(true);
});

test("a spec's zones deny by name removes that AZ id's offers", async () => {
  const all = await offers();
  const file = join(env.dir, 'deny.yaml');
  await writeFile(
    file,
    `name: d\nkind: job\ncommand: [x]\nresources: {gpu: any}\nplacement: {providers: [aws], zones: {deny: [${az1Name}]}}\n`,
  );
  const r = await cli(['offers', file, '--limit', '0', '--json'], env.env);
  expect(r.code).toBe(0);
  const denied = JSON.parse(r.stdout) as Rows;
  expect(all.rows.some((x) => x.zone === 'use1-az1')).toBe(true);
  expect(denied.rows.some((x) => x.zone === 'use1-az1')).toBe(false);
  expect(denied.rows.length).toBeGreaterThan(0);
});

test("the table's ZONE column shows the AZ id with this account's name", async () => {
  const r = await cli(['offers', '--provider', 'aws', '--zone', 'use1-az1', '--limit', '3'], env.env);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`use1-az1 (${az1Name})`);
});
