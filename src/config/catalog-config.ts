/** The `catalog` section of driftless.config.yaml. */
import { z } from 'zod';
import { durationField } from '../common/duration-field';

export const CatalogConfig = z.strictObject({
  /**
   * A price catalog older than this (its download, or the bundled snapshot's date) gets a
   * warning from `offers` and `apply`; "off" never warns. @default "7d"
   */
  maxAge: z
    .union([z.literal('off'), durationField({ example: '"7d"', minMs: 60_000 })])
    .default(7 * 86_400_000),
});
export type CatalogConfig = z.output<typeof CatalogConfig>;
