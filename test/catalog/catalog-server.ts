/**
 * A small HTTP server on 127.0.0.1 serving SkyPilot-format catalogs as `catalog update --from`
 * reads them (`<base>/<provider>/vms.csv`), with bases that fail in the ways a download can.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const AWS_HEADER =
  'InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone,Arch';
const GPU_INFO = `"{'Gpus': [{'Name': 'A100', 'Manufacturer': 'NVIDIA', 'Count': 8, 'MemoryInfo': {'SizeInMiB': 40960}}], 'TotalGpuMemoryInMiB': 327680}"`;

/** An AWS catalog after the June 2025 price cut: p4d.24xlarge at 21.96 in us-east-1. */
export function freshAwsCatalog(price = '21.96'): string {
  return [
    AWS_HEADER,
    `p4d.24xlarge,A100,8.0,96.0,1152.0,${GPU_INFO},${price},9.1234,us-east-1,use1-az1,x86_64`,
    `p4d.24xlarge,A100,8.0,96.0,1152.0,${GPU_INFO},${price},9.5,us-east-1,use1-az2,x86_64`,
    `p4d.24xlarge,A100,8.0,96.0,1152.0,${GPU_INFO},${price},,us-west-2,usw2-az1,x86_64`,
  ].join('\n');
}

export interface CatalogServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Requests seen, by path. */
  requests: string[];
  /** What `/good/aws/vms.csv` serves; change it between tests. */
  setGood(text: string): void;
  close(): Promise<void>;
}

/**
 * Bases: `/good` (the catalog given to setGood), `/bad-header` (not a catalog), `/bad-row` (a
 * row with a price that is not a number), `/cut` (the last row cut in the middle),
 * `/truncated` (Content-Length promises more than is sent, then the connection is dropped),
 * `/no-offers` (a header and nothing else), `/500` (HTTP 500).
 */
export async function startCatalogServer(): Promise<CatalogServer> {
  let good = freshAwsCatalog();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    const [, base] = url.split('/');
    if (!url.endsWith('/vms.csv')) {
      res.writeHead(404).end('not found');
      return;
    }
    const send = (text: string) => {
      res.writeHead(200, { 'content-type': 'text/csv', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    switch (base) {
      case 'good':
        return send(good);
      case 'bad-header':
        return send('<html><body>rate limited</body></html>\n');
      case 'bad-row':
        return send(good.replace('21.96', 'twenty'));
      case 'cut': {
        const text = good.slice(0, good.length - 20);
        return send(text);
      }
      case 'truncated': {
        res.writeHead(200, { 'content-type': 'text/csv', 'content-length': Buffer.byteLength(good) + 5000 });
        res.write(good);
        setTimeout(() => res.destroy(), 20);
        return;
      }
      case 'no-offers':
        return send(`${AWS_HEADER}\n`);
      case '500':
        res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
        return;
      default:
        res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setGood: (text) => (good = text),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
