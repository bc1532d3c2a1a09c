/**
 * Configuration of the AWS provider (`providers.aws` in driftless.config.yaml). Credentials are
 * never configured here: they come from the SDK's default chain (environment, profiles, SSO,
 * instance metadata).
 */
import { z } from 'zod';
import { agentFields, callPolicyFields, checkCallPolicy } from '../config-fields';

export { DEFAULT_AGENT_COMMAND } from '../boot-script';

/** The provider's name: its key under `providers:` and on every offer and instance. */
export const AWS_PROVIDER = 'aws';

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const regionName = z.string().regex(REGION, 'expected an AWS region name such as "us-east-1"');

/** Network placement in one region. Without it, instances go to the default VPC's subnet of the zone. */
export const AwsRegionNetwork = z.strictObject({
  /**
   * Subnets to launch into. A subnet lives in one zone: the one in the offer's zone is used, and
   * zones with none of these subnets get no offers.
   */
  subnetIds: z
    .array(z.string().regex(/^subnet-[0-9a-f]+$/, 'expected a subnet id such as "subnet-0abc"'))
    .min(1)
    .optional(),
  /** Security groups of the instance (in the subnets' VPC). @default the VPC's default group */
  securityGroupIds: z
    .array(z.string().regex(/^sg-[0-9a-f]+$/, 'expected a security group id such as "sg-0abc"'))
    .min(1)
    .optional(),
});
export type AwsRegionNetwork = z.output<typeof AwsRegionNetwork>;

export const AwsProviderConfig = z
  .strictObject({
    /** Regions to offer and to look for owned instances in. */
    regions: z.array(regionName).min(1),
    /**
     * EC2 endpoint for every region (an EC2-compatible server; the tests use moto on loopback).
     * @default the SDK's regional endpoint
     */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * Image per region: an AMI id (`ami-...`) or an image name (wildcards allowed) resolved with
     * DescribeImages among `imageOwners`, newest first. Every configured region needs one.
     */
    images: z.record(regionName, z.string().min(1)),
    /**
     * Owners an image name is looked up among; never every public image, so that a look-alike
     * AMI published by a stranger cannot be picked.
     * @default ["amazon"]
     */
    imageOwners: z.array(z.string().min(1)).min(1).default(['amazon']),
    /** Size of the root volume, GB. @default 100 */
    rootDiskGb: z.number().int().min(8).max(65536).default(100),
    /** EBS type of the root volume. @default "gp3" */
    rootVolumeType: z.enum(['gp3', 'gp2', 'io1', 'io2', 'st1', 'sc1', 'standard']).default('gp3'),
    /** Subnets and security groups per region. @default {} */
    network: z.record(regionName, AwsRegionNetwork).default({}),
    /** EC2 key pair for SSH access. @default none */
    keyName: z.string().min(1).optional(),
    /**
     * "spot": spot offers in the configured regions are priced from DescribeSpotPriceHistory
     * when placing (the latest price per instance type and zone, kept 5 minutes), not from the
     * catalog; a region whose call fails or takes over 3 s keeps the catalog's prices. Needs
     * `ec2:DescribeSpotPriceHistory`. @default "off"
     */
    livePrices: z.enum(['off', 'spot']).optional(),
    ...agentFields,
    ...callPolicyFields,
  })
  .superRefine((c, ctx) => {
    for (const r of c.regions) {
      if (!c.images[r]) {
        ctx.addIssue({ code: 'custom', path: ['images', r], message: `no image configured for region ${r}` });
      }
    }
    for (const key of ['images', 'network'] as const) {
      for (const r of Object.keys(c[key])) {
        if (!c.regions.includes(r)) {
          ctx.addIssue({
            code: 'custom',
            path: [key, r],
            message: `region ${r} is not in regions (${c.regions.join(', ')})`,
          });
        }
      }
    }
    checkCallPolicy(c, ctx);
  });
/** The resolved AWS provider settings (durations in milliseconds). */
export type AwsProviderConfig = z.output<typeof AwsProviderConfig>;
/** The AWS provider settings as written in the config file. */
export type AwsProviderConfigInput = z.input<typeof AwsProviderConfig>;
