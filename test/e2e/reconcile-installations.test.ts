/**
 * Reconcile of two installations sharing one cloud account (moto) with the same owner mark: each
 * in its own Temporal namespace on the real dev server, with its own generated installation id.
 * A reconcile ends only its own installation's orphans. And a provider that hangs (the fault
 * proxy never answers DescribeInstances) does not keep reconcile from ending an orphan on a
 * local pool.
 */
import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { EC2Client, RunInstancesCommand, type Tag } from '@aws-sdk/client-ec2';
import { cliJson, serviceSpec, temporalAddress, waitFor, workloadProcesses } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';
import { motoEc2, motoEnv, startMoto, type MotoServer } from '../support/moto';
import { startFaultProxy, type FaultProxy } from '../providers/aws/fault-proxy';
import { AWS_TAGS } from '../../src/providers/aws/tags';
import type { Installation } from '../../src/providers/types';
import type { ReconcileReport } from '../../src/workflows/reconcile';
import { describeOne, IMAGE_NAME, REGION, someImageId } from '../providers/aws/helpers';

const NAMESPACE_B = `driftless-b-${process.pid}`;
const AWS_ENV = motoEnv(REGION);

let moto: MotoServer;
/** Installation A reaches moto through it (to hang); B talks to moto directly. */
let proxy: FaultProxy;
let ec2: EC2Client;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  ec2 = motoEc2(moto.endpoint, REGION);
}, 300_000);
afterAll(async () => {
  ec2?.destroy();
  await proxy?.stop();
  await moto?.stop();
});

/** AWS on moto at `endpoint`; calls that never end (a hang) are not cut short by the provider. */
const aws = (endpoint: string) => ({
  regions: [REGION],
  endpoint,
  images: { [REGION]: IMAGE_NAME },
  agentInstall: '',
  maxAttempts: 1,
  callTimeout: '10m',
});

/** Installation A: namespace "default", a local pool and AWS through the fault proxy. */
const a = useE2eInstallation({
  pools: [{ name: 'pool-a' }],
  setup: async () => ({
    config: { providers: { aws: aws(proxy.endpoint) }, reconcile: { enabled: false, listTimeout: '3s' } },
    env: AWS_ENV,
  }),
  client: true,
});

/** Installation B: a namespace of its own, AWS on the same account. */
const b = useE2eInstallation({
  pools: [{ name: 'pool-b' }],
  setup: async () => {
    await createNamespace(NAMESPACE_B);
    return {
      config: { providers: { aws: aws(moto.endpoint) } },
      env: { ...AWS_ENV, TEMPORAL_NAMESPACE: NAMESPACE_B },
    };
  },
  timeoutMs: 180_000,
});

/** Registers a namespace on the dev server and waits until its frontend knows it. */
async function createNamespace(namespace: string): Promise<void> {
  const temporal = process.env.TEMPORAL_CLI ?? join(homedir(), '.cache/driftless/bin/temporal');
  await promisify(execFile)(temporal, [
    'operator',
    'namespace',
    'create',
    '--namespace',
    namespace,
    '--address',
    temporalAddress(),
  ]);
  const connection = await Connection.connect({ address: temporalAddress() });
  try {
    await waitFor(
      () =>
        connection.workflowService.describeNamespace({ namespace }).then(
          () => true,
          () => false,
        ),
      `namespace ${namespace}`,
      60_000,
    );
  } finally {
    await connection.close();
  }
}

const gc = (env: NodeJS.ProcessEnv, ...args: string[]) =>
  cliJson<ReconcileReport>(['gc', '--timeout', '60s', ...args], env);

/** An instance launched behind driftless's back, marked as `who`'s workflow left it (an orphan). */
async function orphanOf(who: Installation, workflowId: string): Promise<string> {
  const tags: Tag[] = [
    { Key: AWS_TAGS.owner, Value: 'test' },
    { Key: AWS_TAGS.namespace, Value: who.namespace },
    { Key: AWS_TAGS.installation, Value: who.id },
    { Key: AWS_TAGS.workload, Value: 'gone' },
    { Key: AWS_TAGS.workflowId, Value: workflowId },
    { Key: AWS_TAGS.attempt, Value: '1' },
  ];
  const res = await ec2.send(
    new RunInstancesCommand({
      ImageId: await someImageId(ec2),
      InstanceType: 'g4dn.xlarge',
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
    }),
  );
  return res.Instances![0]!.InstanceId!;
}

const stateOf = async (id: string) => (await describeOne(ec2, id)).State?.Name;

test("two installations with the same owner on one account: each reconcile ends its own orphans, never the other's", async () => {
  // Which installation each is: namespace and the id its worker generated and stored.
  const ia = (await gc(a.env, '--dry-run')).installation!;
  const ib = (await gc(b.env, '--dry-run')).installation!;
  expect(ia.namespace).toBe('default');
  expect(ib.namespace).toBe(NAMESPACE_B);
  expect(ia.id).toMatch(/^[0-9a-f]{12}$/);
  expect(ib.id).not.toBe(ia.id);
  // The same workflow id in both: closed (never existed) in either namespace.
  const orphanA = await orphanOf(ia, 'workload-gone');
  const orphanB = await orphanOf(ib, 'workload-gone');

  const byA = await gc(a.env, '--grace', '0s');
  expect(byA.terminated.map((t) => t.id)).toEqual([orphanA]);
  expect(byA.kept).toContainEqual(
    expect.objectContaining({
      id: orphanB,
      reason: `not ours: it belongs to installation ${ib.id} in namespace ${NAMESPACE_B}`,
    }),
  );
  expect(await stateOf(orphanB)).toBe('running');

  const byB = await gc(b.env, '--grace', '0s');
  expect(byB.terminated.map((t) => t.id)).toEqual([orphanB]);
  expect(await stateOf(orphanB)).not.toBe('running');

  // The id is stored, not made up per run: a second worker of A would mark the same.
  expect((await gc(a.env, '--dry-run')).installation).toEqual(ia);
});

test('a provider that hangs is reported, and an orphan on another provider is still ended', async () => {
  const name = 'rc-hang';
  await a.apply(serviceSpec(name, { placement: { providers: ['local'] } }));
  const s = await a.waitRunning(name);
  await waitFor(() => workloadProcesses(name).length === 1, `${name}'s workload`, 30_000);
  await a.client.workflow.getHandle(`workload-${name}`).terminate('test: hard stop');
  proxy.hang('DescribeInstances');
  try {
    const report = await gc(a.env, '--grace', '0s');
    expect(report.terminated).toEqual([
      expect.objectContaining({ id: s.instanceId, provider: 'local', workflowId: `workload-${name}` }),
    ]);
    expect(report.providerErrors).toEqual(['aws: listing: no answer within 3s']);
    await waitFor(() => workloadProcesses(name).length === 0, 'the orphan workload to end', 30_000);
  } finally {
    proxy.clear();
  }
});
