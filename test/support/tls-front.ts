/**
 * A secured Temporal frontend on loopback, as a production cluster or Temporal Cloud presents
 * one: nginx (Debian's package) terminates TLS in front of the suite's dev server and proxies
 * gRPC to it. Two modes: mTLS (a client certificate signed by the test's CA is required) and
 * API key (server TLS, and `authorization: Bearer <key>` is required on every call). The
 * certificates are made by openssl for this run.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/common/free-port';
import { packageRoot } from '../../src/package-root';

const run = promisify(execFile);

export interface TestCerts {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from another CA: the front must refuse it. */
  strangerCert: string;
  strangerKey: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

/** A CA, a server certificate for localhost and 127.0.0.1, a client certificate and a stranger's. */
export async function makeCerts(dir: string): Promise<TestCerts> {
  await mkdir(dir, { recursive: true });
  const key = (name: string) =>
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name], dir);
  const selfSigned = async (name: string, cn: string) => {
    await key(`${name}.key`);
    await openssl(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        `${name}.key`,
        '-sha256',
        '-days',
        '2',
        '-subj',
        `/CN=${cn}`,
        '-out',
        `${name}.pem`,
      ],
      dir,
    );
  };
  const signed = async (name: string, ca: string, cn: string, ext: string) => {
    await key(`${name}.key`);
    await openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`], dir);
    await writeFile(join(dir, `${name}.ext`), ext);
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        `${ca}.pem`,
        '-CAkey',
        `${ca}.key`,
        '-CAcreateserial',
        '-days',
        '2',
        '-sha256',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.pem`,
      ],
      dir,
    );
  };
  await selfSigned('ca', 'driftless test CA');
  await selfSigned('stranger-ca', 'someone else');
  await signed(
    'server',
    'ca',
    'localhost',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  const clientExt = 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n';
  await signed('client', 'ca', 'driftless-worker', clientExt);
  await signed('stranger', 'stranger-ca', 'driftless-worker', clientExt);
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caCert: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    strangerCert: p('stranger.pem'),
    strangerKey: p('stranger.key'),
  };
}

/** nginx on PATH or where Debian puts it; installed from Debian's packages (as .ci/run does) when missing. */
export async function findNginx(): Promise<string> {
  const known = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
  if (known) return known;
  try {
    return (await run('sh', ['-c', 'command -v nginx'])).stdout.trim();
  } catch {
    /* not on PATH */
  }
  try {
    await run(join(packageRoot(), 'scripts/apt-install.sh'), ['nginx-light'], { timeout: 900_000 });
  } catch (err) {
    throw new Error(
      `nginx is needed for the TLS tests and could not be installed: ${(err as Error).message}`,
    );
  }
  return findNginx();
}

export interface TlsFront {
  /** 127.0.0.1:PORT */
  address: string;
  /** The front's error log, for a failing test's message. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts nginx in `dir` in front of `upstream` (host:port of the plain dev server). `apiKey`:
 * server TLS plus a required bearer key; otherwise mTLS with the certificates' CA.
 */
export async function startTlsFront(o: {
  dir: string;
  upstream: string;
  certs: TestCerts;
  apiKey?: string;
}): Promise<TlsFront> {
  const nginx = await findNginx();
  await mkdir(join(o.dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const auth = o.apiKey ? `if ($http_authorization != "Bearer ${o.apiKey}") { return 401; }` : '';
  const mtls = o.apiKey ? '' : `ssl_client_certificate ${o.certs.caCert};\n    ssl_verify_client on;`;
  const conf = `
worker_processes 1;
daemon off;
pid ${o.dir}/nginx.pid;
error_log ${o.dir}/error.log info;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${o.dir}/tmp/body;
  proxy_temp_path ${o.dir}/tmp/proxy;
  fastcgi_temp_path ${o.dir}/tmp/fastcgi;
  uwsgi_temp_path ${o.dir}/tmp/uwsgi;
  scgi_temp_path ${o.dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${o.certs.serverCert};
    ssl_certificate_key ${o.certs.serverKey};
    ${mtls}
    # Temporal's long polls last about a minute; the default 60 s would cut them.
    grpc_read_timeout 300s;
    grpc_send_timeout 300s;
    client_max_body_size 64m;
    # Refused credentials answer as a secured Temporal frontend does: gRPC UNAUTHENTICATED
    # (a wrong or missing key: 401; a client certificate of another CA: 495; none: 496).
    error_page 401 495 496 = @refused;
    location / {
      ${auth}
      grpc_pass grpc://${o.upstream};
    }
    location @refused {
      default_type application/grpc;
      add_header grpc-status 16 always;
      add_header grpc-message "credentials refused by the TLS front" always;
      return 200;
    }
  }
}
`;
  const confPath = join(o.dir, 'nginx.conf');
  await writeFile(confPath, conf);
  const child: ChildProcess = spawn(nginx, ['-p', o.dir, '-c', confPath, '-e', join(o.dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr}`);
    if (await listening(port)) break;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address: `127.0.0.1:${port}`,
    log: () => readFile(join(o.dir, 'error.log'), 'utf8').catch(() => ''),
    async stop() {
      if (child.exitCode === null) child.kill('SIGQUIT');
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(force);
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
