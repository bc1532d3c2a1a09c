/**
 * What can run where: the shapes the catalog, placement and the providers share. Below all of
 * them, so none has to import another for its vocabulary.
 */

/** One concrete candidate a provider can launch, with its price. */
export interface Offer {
  /** Provider as configured, e.g. "local", "aws", "gcp". */
  provider: string;
  /** Region; for the local provider, the pool name. */
  region: string;
  /** Zone; for the local provider, the pool name. AWS: the AZ id (`use1-az1`), as the catalog has it. */
  zone: string;
  /**
   * The zone's name where it differs from `zone` and the provider knows it (AWS: `us-east-1a`,
   * which maps to an AZ id per account); placement matches zone patterns against both.
   */
  zoneName?: string;
  /** Instance type; for a local pool, a description of the slice ("lab-a:2xA100"). */
  instanceType: string;
  /** GPU model name, e.g. "A100"; undefined for CPU-only offers. */
  gpuType?: string;
  gpuCount: number;
  /** Memory of one GPU in GB, when known. */
  gpuMemoryGb?: number;
  vcpus: number;
  memoryGb: number;
  spot: boolean;
  /** US dollars per hour for the whole offer. */
  pricePerHour: number;
}

/** Provider / region / zone: the unit that gets blocked for a cooldown after a failure. */
export interface Location {
  provider: string;
  region?: string;
  zone?: string;
}

/** What scope of location a failure blocks. */
export type FailureScope = 'zone' | 'region' | 'provider';
