/**
 * The codec server the Temporal Web UI (and `temporal --codec-endpoint`) decodes through: POST
 * /decode and /encode with `{"payloads": [{"metadata": {k: base64}, "data": base64}]}`, the
 * shape the UI sends. The browser calls it directly, so it answers CORS for the UI's origins
 * only: a page from any other origin cannot make the browser read decoded payloads. It binds
 * 127.0.0.1 by default: whoever reaches it can decrypt, like whoever holds the key.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** @default 8888 */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** The Web UI origins allowed to call it. @default ["http://127.0.0.1:8233"] */
  origins?: string[];
  /** Where failed requests are reported (never the payloads). @default nowhere */
  log?: (line: string) => void;
}

export interface CodecServer {
  url: string;
  server: Server;
  stop(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw Object.assign(new Error(`request body over ${MAX_BODY_BYTES} bytes`), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const origins = new Set(options.origins ?? ['http://127.0.0.1:8233']);
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => undefined);

  const send = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, body === undefined ? {} : { 'Content-Type': 'application/json' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    // No Origin: not a browser page (the Temporal CLI, curl). A page's origin must be the UI's.
    if (origin !== undefined) {
      if (!origins.has(origin)) return send(res, 403, { error: `origin ${origin} is not allowed: start the codec server with --origin ${origin}` });
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    if (req.method === 'OPTIONS') return send(res, 204);
    const path = (req.url ?? '').split('?')[0]!.replace(/\/+$/, '');
    const op = path.endsWith('/decode') ? 'decode' : path.endsWith('/encode') ? 'encode' : undefined;
    if (!op) return send(res, 404, { error: 'POST /decode or /encode' });
    if (req.method !== 'POST') return send(res, 405, { error: `${op} takes POST` });
    let payloads: JsonPayload[];
    try {
      const body = JSON.parse(await readBody(req)) as { payloads?: unknown };
      if (!Array.isArray(body.payloads)) throw new Error('the body has no "payloads" array');
      payloads = body.payloads as JsonPayload[];
    } catch (err) {
      return send(res, (err as { status?: number }).status ?? 400, { error: `bad request: ${(err as Error).message}` });
    }
    try {
      const converted = await options.codec[op](payloads.map(fromJson));
      send(res, 200, { payloads: converted.map(toJson) });
    } catch (err) {
      log(`codec server: ${op} failed (namespace ${String(req.headers['x-namespace'] ?? '?')}): ${(err as Error).message}`);
      send(res, 400, { error: (err as Error).message });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { error: (err as Error).message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8888, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port ?? 8888;
  return {
    url: `http://${host}:${port}`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The UI's keep-alive connections would hold close() open.
        server.closeAllConnections();
      }),
  };
}
