/**
 * `budget`: what a workload may cost in all. The workflow keeps a ledger of every instance it
 * launched (price × time from launch to termination, src/workflows/workload/cost.ts); once the
 * total reaches `maxTotal` the workload is stopped (a job: failed) with the reason in its status.
 * `placement.maxPricePerHour` caps the rate; this caps the sum.
 */
import { z } from 'zod';
import { expected } from '../common/duration-field';

export const Budget = z.strictObject(
  {
    /** US dollars: the most the workload's instances may cost in all, from launch to termination. */
    maxTotal: z
      .number({ error: expected('a positive number of US dollars') })
      .positive({ error: expected('a positive number of US dollars') }),
  },
  { error: expected('an object such as { maxTotal: 50 }') },
);
export type Budget = z.output<typeof Budget>;
