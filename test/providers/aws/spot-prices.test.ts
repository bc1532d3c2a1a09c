/**
 * `livePrices: spot`: the AWS provider prices spot offers from DescribeSpotPriceHistory, through
 * the real SDK over HTTP to moto on loopback. moto answers every instance type offered in a zone
 * with the spot price "0.00001" (moto/ec2/responses/spot_instances.py), named by zone name.
 */
import { DescribeSpotPriceHistoryCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { AwsSpotPrices } from '../../../src/providers/aws/spot-prices';
import { AwsApi } from '../../../src/providers/aws/api';
import { AwsRegionInfo } from '../../../src/providers/aws/region-info';
import { awsConfig, makeProvider, offer, rawClient, silentLogger, useMoto, REGION } from './helpers';

const aws = useMoto();
const MOTO_SPOT_PRICE = 0.00001;

const catalog = () => [
  offer({ spot: false, pricePerHour: 1.006 }),
  offer({ spot: true, pricePerHour: 0.45 }),
  offer({ spot: true, pricePerHour: 0.5, zone: 'use1-az2' }),
];

/** EC2 clients on moto that count (and can fail or stall) DescribeSpotPriceHistory calls. */
function counting(mode: { fail?: boolean; stall?: boolean } = {}) {
  const calls: string[] = [];
  const clientFactory = (region: string): EC2Client => {
    const c = rawClient(aws.moto.endpoint, region);
    const send = c.send.bind(c) as (cmd: unknown, opts?: unknown) => Promise<unknown>;
    c.send = ((cmd: unknown, opts?: unknown) => {
      if (cmd instanceof DescribeSpotPriceHistoryCommand) {
        calls.push(region);
        if (mode.fail)
          return Promise.reject(
            Object.assign(new Error('not authorized'), { name: 'UnauthorizedOperation' }),
          );
        if (mode.stall) return new Promise(() => undefined);
      }
      return send(cmd, opts);
    }) as EC2Client['send'];
    return c;
  };
  return { calls, clientFactory };
}

test('off (the default): catalog prices, and no DescribeSpotPriceHistory call', async () => {
  const { calls, clientFactory } = counting();
  const offers = await makeProvider(
    aws.moto.endpoint,
    {},
    { catalogOffers: catalog(), clientFactory },
  ).offers();
  expect(offers.map((o) => o.pricePerHour)).toEqual([1.006, 0.45, 0.5]);
  expect(calls).toEqual([]);
});

test('spot: spot offers take the live price of their type and zone; on-demand keeps the catalog', async () => {
  const { calls, clientFactory } = counting();
  const provider = makeProvider(
    aws.moto.endpoint,
    { livePrices: 'spot' },
    { catalogOffers: catalog(), clientFactory },
  );
  const offers = await provider.offers();
  expect(offers.map((o) => [o.zone, o.spot, o.pricePerHour])).toEqual([
    ['use1-az1', false, 1.006],
    ['use1-az1', true, MOTO_SPOT_PRICE],
    ['use1-az2', true, MOTO_SPOT_PRICE],
  ]);
  // One call for the one region with spot offers; the next listing within 5 minutes reuses it.
  expect(calls).toEqual([REGION]);
  await provider.offers();
  expect(calls).toEqual([REGION]);
});

test('a type EC2 has no price for keeps its catalog price', async () => {
  const { clientFactory } = counting();
  const offers = await makeProvider(
    aws.moto.endpoint,
    { livePrices: 'spot' },
    {
      catalogOffers: [offer({ spot: true, instanceType: 'no-such.type', pricePerHour: 0.7 })],
      clientFactory,
    },
  ).offers();
  expect(offers.map((o) => o.pricePerHour)).toEqual([0.7]);
});

test('a failing call falls back to the catalog prices, and is asked again next time', async () => {
  const { calls, clientFactory } = counting({ fail: true });
  const provider = makeProvider(
    aws.moto.endpoint,
    { livePrices: 'spot' },
    { catalogOffers: catalog(), clientFactory },
  );
  expect((await provider.offers()).map((o) => o.pricePerHour)).toEqual([1.006, 0.45, 0.5]);
  await provider.offers();
  expect(calls.length).toBeGreaterThanOrEqual(2);
});

test('a call that hangs costs a listing at most the wait, then the catalog prices are used', async () => {
  const { clientFactory } = counting({ stall: true });
  const config = awsConfig(aws.moto.endpoint, { livePrices: 'spot' });
  const api = new AwsApi({ config, logger: silentLogger, clientFactory });
  const prices = new AwsSpotPrices({
    api,
    regionInfo: new AwsRegionInfo(api, config),
    logger: silentLogger,
    waitMs: 200,
  });
  const started = Date.now();
  const offers = await prices.apply(catalog(), () => ({ location: { provider: 'aws', region: REGION } }));
  expect(Date.now() - started).toBeLessThan(2000);
  expect(offers.map((o) => o.pricePerHour)).toEqual([1.006, 0.45, 0.5]);
  api.destroy();
});

test('the cache lasts the TTL, then EC2 is asked again', async () => {
  const { calls, clientFactory } = counting();
  const config = awsConfig(aws.moto.endpoint);
  const api = new AwsApi({ config, logger: silentLogger, clientFactory });
  let now = Date.parse('2026-12-02T10:00:00Z');
  const prices = new AwsSpotPrices({
    api,
    regionInfo: new AwsRegionInfo(api, config),
    logger: silentLogger,
    ttlMs: 60_000,
    now: () => now,
  });
  const ctx = () => ({ location: { provider: 'aws', region: REGION } });
  await prices.apply(catalog(), ctx);
  now += 59_000;
  await prices.apply(catalog(), ctx);
  expect(calls).toHaveLength(1);
  now += 2_000;
  const offers = await prices.apply(catalog(), ctx);
  expect(calls).toHaveLength(2);
  expect(offers[1]?.pricePerHour).toBe(MOTO_SPOT_PRICE);
  api.destroy();
});
