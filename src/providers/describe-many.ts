/**
 * Describing many instances at once, for the batched watch: through the provider's own batch
 * call when it has one, else one describe per instance (a few at a time). An instance whose
 * state could not be told is left out of the answer: one failed call decides nothing.
 */
import type { InstanceRef, InstanceState, Provider } from './types';

/** Describes at once per provider without a batch call. */
const CONCURRENCY = 16;

export async function describeMany(
  provider: Provider,
  refs: InstanceRef[],
  signal?: AbortSignal,
  onError: (ref: InstanceRef | undefined, err: Error) => void = () => undefined,
): Promise<Map<string, InstanceState>> {
  if (refs.length === 0) return new Map();
  if (provider.describeMany) {
    try {
      return await provider.describeMany(refs, signal);
    } catch (err) {
      onError(undefined, err as Error);
      return new Map();
    }
  }
  const out = new Map<string, InstanceState>();
  let next = 0;
  const work = async () => {
    while (next < refs.length) {
      const ref = refs[next++]!;
      try {
        out.set(ref.id, await provider.describe(ref, signal));
      } catch (err) {
        onError(ref, err as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, refs.length) }, work));
  return out;
}
