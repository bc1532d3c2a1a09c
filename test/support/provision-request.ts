import { ProviderError } from '../../src/providers/errors';
import type { InstanceOwner, Offer, Provider, ProvisionRequest } from '../../src/providers/types';

/** What a test may change in a provision request; labels are merged with the defaults. */
export type RequestOverrides = Omit<Partial<ProvisionRequest>, 'labels'> & {
  labels?: Partial<InstanceOwner>;
};

let seq = 0;
/**
 * A provision request as the provision activity makes it, for `owner`, with a fresh workflow id
 * unless one is given and the idempotency key derived the same way.
 */
export function provisionRequest(o: Offer, owner: string, over: RequestOverrides = {}): ProvisionRequest {
  const workflowId = over.labels?.workflowId ?? `workload-t${process.pid}-${++seq}`;
  const labels: InstanceOwner = {
    owner,
    namespace: 'default',
    installation: 'test-installation',
    workload: 'train',
    workflowId,
    attempt: 1,
    ...over.labels,
  };
  return {
    offer: o,
    idempotencyKey: `${labels.workflowId}/run/${labels.attempt}/${o.provider}/${o.zone}/${o.instanceType}`,
    agent: { address: 'temporal.example:7233', namespace: 'prod' },
    ...over,
    labels,
  };
}

/** The ProviderError a provision ends with; fails the test if it succeeds or throws anything else. */
export async function provisionError(provider: Provider, req: ProvisionRequest): Promise<ProviderError> {
  try {
    await provider.provision(req);
  } catch (err) {
    if (err instanceof ProviderError) return err;
    throw err;
  }
  throw new Error('provision succeeded');
}
