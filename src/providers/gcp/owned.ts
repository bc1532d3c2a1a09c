/** Listing an owner's Compute Engine instances: one aggregated list over the project, paged. */
import { CALL_OPTIONS, type CallContext, type GcpApi } from './api';
import type { GceInstance } from './instance-resource';
import { GCP_LABELS, labelValue } from './names';

/** Every instance with `owner`'s label in the project, in any zone and any status. */
export function ownedGceInstances(
  api: GcpApi,
  project: string,
  owner: string,
  ctx: CallContext,
): Promise<GceInstance[]> {
  const filter = `labels.${GCP_LABELS.owner} = "${labelValue(owner)}"`;
  return api.call(ctx, 'instances.aggregatedList', async () => {
    const out: GceInstance[] = [];
    const pages = api.instances.aggregatedListAsync(
      { project, filter, returnPartialSuccess: true },
      CALL_OPTIONS,
    );
    for await (const [, scoped] of pages) out.push(...(scoped.instances ?? []));
    return out;
  });
}
