/**
 * What `driftless check` asks of every provider (as `sky check` does): do the credentials work,
 * which regions or zones answer. The pieces every cloud's check shares live here.
 */
import pino, { type Logger } from 'pino';
import { FailureType } from '../common/names';
import { ProviderError } from './errors';

/** Why a region or zone failed its check: the taxonomy class, the provider's code and a message. */
export interface CheckFailure {
  type: string;
  code?: string;
  message: string;
}

/** What `driftless check` reports for one configured provider (one element of `check --json`). */
export interface ProviderCheck {
  provider: string;
  ok: boolean;
  detail: string;
  /** One row per region (per zone where zones are checked one by one). */
  regions: Array<{ region: string; zone?: string; ok: boolean; detail: string }>;
}

/** What a cloud's check learnt about one region or zone. */
export interface PlaceCheck {
  ok: boolean;
  /** The place answered: the credentials are accepted there. */
  credentialsAccepted: boolean;
  error?: CheckFailure;
}

/** What the checked places say of the credentials. */
export type CredentialsVerdict = 'valid' | 'invalid' | 'unknown';

/** Options every cloud's check function takes. */
export interface CheckOptions {
  /** @default a silent logger */
  logger?: Logger;
  signal?: AbortSignal;
}

/** The logger of a check: the caller's, or one that says nothing. */
export function checkLogger(opts: CheckOptions): Logger {
  return opts.logger ?? pino({ level: 'silent' });
}

/** "AuthError AuthFailure: message": why a region or zone failed, for people. */
function describeFailure(e: CheckFailure | undefined): string {
  return `${e?.type ?? 'error'}${e?.code ? ` ${e.code}` : ''}: ${e?.message ?? ''}`;
}

/**
 * Probes every place at once. A probe that returns marks its place ok; one that throws marks only
 * its own place failed, with the error's class and code (`codeOf` reads a code from an error that
 * is not a ProviderError). Returns the places and the credentials' verdict over them.
 */
export async function checkPlaces<P extends PlaceCheck>(
  places: P[],
  probe: (place: P) => Promise<void>,
  codeOf: (err: unknown) => string | undefined = () => undefined,
): Promise<{ places: P[]; credentials: CredentialsVerdict }> {
  await Promise.all(
    places.map(async (place) => {
      try {
        await probe(place);
        place.ok = true;
      } catch (err) {
        const e = err instanceof ProviderError ? err : undefined;
        place.error = {
          type: e?.name ?? 'Error',
          code: e?.code ?? codeOf(err),
          message: (err as Error).message,
        };
      }
    }),
  );
  return { places, credentials: credentialsVerdict(places) };
}

/** "invalid" when any place refused the credentials, "valid" when one accepted them, else "unknown". */
function credentialsVerdict(places: PlaceCheck[]): CredentialsVerdict {
  if (places.some((p) => p.error?.type === FailureType.Auth)) return 'invalid';
  return places.some((p) => p.credentialsAccepted) ? 'valid' : 'unknown';
}

/** Where a checked place is, and what to say of it when it is ok. */
export interface PlaceRow {
  region: string;
  zone?: string;
  /** Shown when the place is ok; a failed place shows why it failed. */
  okDetail: string;
}

/** A cloud's check as `driftless check` shows it: one row per place. */
export function checkReport<P extends PlaceCheck>(
  head: Pick<ProviderCheck, 'provider' | 'ok' | 'detail'>,
  places: P[],
  row: (place: P) => PlaceRow,
): ProviderCheck {
  return {
    ...head,
    regions: places.map((p) => {
      const { region, zone, okDetail } = row(p);
      const detail = p.ok ? okDetail : describeFailure(p.error);
      return zone === undefined ? { region, ok: p.ok, detail } : { region, zone, ok: p.ok, detail };
    }),
  };
}
