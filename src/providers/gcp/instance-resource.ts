/** The body of a GCE create, and the owner marks read back from an instance. */
import type { protos } from '@google-cloud/compute';
import { gcpGpu, isGcpGpuFamily } from '../../catalog/gcp-shapes';
import { bootOptions } from '../boot-script';
import { InvalidRequestError } from '../errors';
import type { InstanceOwner, Location, Offer, ProvisionRequest } from '../types';
import type { GcpProviderConfig } from './config';
import { GCP_LABELS, labelValue } from './names';
import { MAX_METADATA_VALUE_BYTES, startupScript } from './startup-script';

export type GceInstance = protos.google.cloud.compute.v1.IInstance;

/** Metadata keys that keep the exact owner values a label may only hold sanitised. */
const METADATA_KEYS = GCP_LABELS;

const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** The GPUs to attach: none for machine types with GPUs built in (A2, A3, G2, ...). */
function accelerators(offer: Offer, location: Location): GceInstance['guestAccelerators'] {
  if (offer.gpuCount === 0 || !offer.gpuType || isGcpGpuFamily(offer.instanceType)) return [];
  const type = gcpGpu(offer.gpuType)?.acceleratorType;
  if (!type) {
    throw new InvalidRequestError(
      `no GCE accelerator type is known for GPU ${offer.gpuType}`,
      location,
      'UnknownAccelerator',
    );
  }
  return [
    { acceleratorType: `zones/${offer.zone}/acceleratorTypes/${type}`, acceleratorCount: offer.gpuCount },
  ];
}

/** The body of the create call of instance `name`. */
export function instanceResource(
  req: ProvisionRequest,
  name: string,
  location: Location,
  c: GcpProviderConfig,
): GceInstance {
  const { offer, labels } = req;
  const script = startupScript({ ...bootOptions(req, c), instanceName: name });
  if (Buffer.byteLength(script) > MAX_METADATA_VALUE_BYTES) {
    throw new InvalidRequestError(
      'the agent startup script is over 256 KB',
      location,
      'StartupScriptTooLarge',
    );
  }
  const exact: Record<keyof InstanceOwner, string> = {
    owner: labels.owner,
    namespace: labels.namespace,
    installation: labels.installation,
    workload: labels.workload,
    workflowId: labels.workflowId,
    attempt: String(labels.attempt),
  };
  const gceLabels = Object.fromEntries(
    (Object.keys(GCP_LABELS) as Array<keyof InstanceOwner>).map((k) => [GCP_LABELS[k], labelValue(exact[k])]),
  );
  const guestAccelerators = accelerators(offer, location);
  // GPUs cannot live-migrate, and neither can spot instances.
  const onHostMaintenance = offer.gpuCount > 0 || offer.spot ? 'TERMINATE' : 'MIGRATE';
  return {
    name,
    machineType: `zones/${offer.zone}/machineTypes/${offer.instanceType}`,
    labels: gceLabels,
    metadata: {
      items: [
        { key: 'startup-script', value: script },
        ...(Object.keys(METADATA_KEYS) as Array<keyof InstanceOwner>).map((k) => ({
          key: METADATA_KEYS[k],
          value: exact[k],
        })),
      ],
    },
    scheduling: offer.spot
      ? {
          provisioningModel: 'SPOT',
          // A preempted spot instance is deleted, disk and all: nothing is left to bill or leak.
          instanceTerminationAction: 'DELETE',
          onHostMaintenance,
          automaticRestart: false,
        }
      : { provisioningModel: 'STANDARD', onHostMaintenance, automaticRestart: true },
    guestAccelerators,
    disks: [
      {
        boot: true,
        autoDelete: true,
        type: 'PERSISTENT',
        initializeParams: {
          sourceImage: c.image,
          diskSizeGb: String(c.bootDiskGb),
          diskType: `zones/${offer.zone}/diskTypes/${c.bootDiskType}`,
          labels: gceLabels,
        },
      },
    ],
    networkInterfaces: [
      {
        network: c.network,
        subnetwork: c.subnetwork,
        accessConfigs: c.externalIp ? [{ name: 'External NAT', type: 'ONE_TO_ONE_NAT' }] : [],
      },
    ],
    serviceAccounts: c.serviceAccount ? [{ email: c.serviceAccount, scopes: [CLOUD_PLATFORM_SCOPE] }] : [],
  };
}

function metadataValue(i: GceInstance, key: string): string | undefined {
  return i.metadata?.items?.find((m) => m.key === key)?.value ?? undefined;
}

/** The owner marks of an instance: exact from its metadata, else as its labels hold them. */
export function ownerOf(i: GceInstance): Partial<InstanceOwner> {
  const read = (key: string) => metadataValue(i, key) ?? i.labels?.[key];
  const attempt = Number(read(GCP_LABELS.attempt));
  return {
    owner: read(GCP_LABELS.owner),
    namespace: read(GCP_LABELS.namespace),
    installation: read(GCP_LABELS.installation),
    workload: read(GCP_LABELS.workload),
    workflowId: read(GCP_LABELS.workflowId),
    attempt: Number.isInteger(attempt) ? attempt : undefined,
  };
}

/** Whether an instance carries this attempt's labels: the one a repeated create may adopt. */
export function isAttemptsInstance(i: GceInstance, labels: InstanceOwner): boolean {
  const l = i.labels ?? {};
  return (
    l[GCP_LABELS.owner] === labelValue(labels.owner) &&
    l[GCP_LABELS.workflowId] === labelValue(labels.workflowId) &&
    l[GCP_LABELS.attempt] === labelValue(String(labels.attempt))
  );
}
