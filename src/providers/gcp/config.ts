/**
 * Configuration of the GCP provider (`providers.gcp` in driftless.config.yaml). Credentials are
 * never configured here: they come from Application Default Credentials (GOOGLE_APPLICATION_
 * CREDENTIALS, gcloud's application-default login, the metadata server).
 */
import { z } from 'zod';
import { agentFields, callPolicyFields, checkCallPolicy, duration } from '../config-fields';

const ZONE = /^[a-z]+-[a-z]+\d+-[a-z]$/;
const REGION = /^[a-z]+-[a-z]+\d+$/;
const zoneName = z.string().regex(ZONE, 'expected a GCE zone name such as "us-central1-a"');
const regionName = z.string().regex(REGION, 'expected a GCE region name such as "us-central1"');

/** An image family of Google's Deep Learning VM images with CUDA 12.4 and the NVIDIA driver. */
/** The provider's name: its key under `providers:` and on every offer and instance. */
export const GCP_PROVIDER = 'gcp';

export const DEFAULT_GCP_IMAGE = 'projects/deeplearning-platform-release/global/images/family/common-cu124';

export const GcpProviderConfig = z
  .strictObject({
    /** Project the instances are created in. */
    project: z
      .string()
      .regex(
        /^([a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
        'expected a project id such as "my-project-123"',
      ),
    /** Zones to offer and to look for owned instances in. @default none (see `regions`) */
    zones: z.array(zoneName).min(1).optional(),
    /** Regions whose catalog zones are all offered, in addition to `zones`. @default none */
    regions: z.array(regionName).min(1).optional(),
    /**
     * Compute Engine endpoint (a server speaking the Compute REST API; the tests use a fake on
     * loopback). @default https://compute.googleapis.com
     */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * "application-default": Application Default Credentials. "none": send no credentials at all,
     * only for an `endpoint` such as an emulator. @default "application-default"
     */
    credentials: z.enum(['application-default', 'none']).default('application-default'),
    /** Boot image: an image or image family URL, e.g. projects/p/global/images/family/f. */
    image: z
      .string()
      .regex(
        /^(https:\/\/[^/]+\/compute\/v1\/)?projects\/[^/]+\/global\/images\/(family\/)?[a-z][-a-z0-9]*$/,
        'expected "projects/<project>/global/images/<name>" or ".../images/family/<family>"',
      )
      .default(DEFAULT_GCP_IMAGE),
    /** Size of the boot disk, GB. @default 100 */
    bootDiskGb: z.number().int().min(10).max(65536).default(100),
    /** Type of the boot disk. @default "pd-balanced" */
    bootDiskType: z
      .enum(['pd-balanced', 'pd-ssd', 'pd-standard', 'hyperdisk-balanced'])
      .default('pd-balanced'),
    /** VPC network, e.g. "global/networks/default". @default the project's default network */
    network: z.string().min(1).optional(),
    /** Subnetwork, e.g. "regions/us-central1/subnetworks/gpu". @default the network's subnetwork of the region */
    subnetwork: z.string().min(1).optional(),
    /** An external IP, so that the agent reaches Temporal without a Cloud NAT. @default true */
    externalIp: z.boolean().default(true),
    /** Service account of the instances (email), with the cloud-platform scope. @default none */
    serviceAccount: z.email().optional(),
    ...agentFields,
    ...callPolicyFields,
    /**
     * How long a create or delete operation may take before it counts as failed in its zone.
     * @default "10m"
     */
    operationTimeout: duration.default(600_000),
  })
  .superRefine((c, ctx) => {
    if (!c.zones && !c.regions) {
      ctx.addIssue({ code: 'custom', path: ['zones'], message: 'configure zones, regions or both' });
    }
    if (c.credentials === 'none' && !c.endpoint) {
      ctx.addIssue({
        code: 'custom',
        path: ['credentials'],
        message: '"none" sends unauthenticated requests and is only for a configured endpoint',
      });
    }
    checkCallPolicy(c, ctx);
  });
/** The resolved GCP provider settings (durations in milliseconds). */
export type GcpProviderConfig = z.output<typeof GcpProviderConfig>;
/** The GCP provider settings as written in the config file. */
export type GcpProviderConfigInput = z.input<typeof GcpProviderConfig>;

/** The region of a zone: "us-central1-a" -> "us-central1". */
export function regionOfZone(zone: string): string {
  return zone.replace(/-[a-z]$/, '');
}
