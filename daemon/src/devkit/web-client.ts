import https from 'node:https';

export interface WebAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  text: string;
  /** The body's bytes as they came (a download). */
  raw: Buffer;
}

/**
 * A browser-like client of the box's web app: HTTPS that trusts only the box's own certificate, a cookie
 * jar, and the page's Origin and CSRF token on state changes (each can be left out or faked by a test).
 */
export class WebClient {
  cookie: string | undefined;
  csrf: string | undefined;

  constructor(
    readonly port: number,
    private readonly ca: string,
  ) {}

  get origin(): string {
    return `https://localhost:${this.port}`;
  }

  async request(method: string, url: string, body?: unknown, options: { origin?: string | null; csrf?: string | null; raw?: string; headers?: Record<string, string> } = {}): Promise<WebAnswer> {
    const payload = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const headers: Record<string, string> = { host: `localhost:${this.port}`, accept: 'application/json', ...options.headers };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.cookie) headers.cookie = this.cookie;
    const origin = options.origin === undefined ? this.origin : options.origin;
    if (method !== 'GET' && origin) headers.origin = origin;
    const csrf = options.csrf === undefined ? this.csrf : options.csrf;
    if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
    const answer = await new Promise<WebAnswer>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', servername: 'localhost', port: this.port, method, path: url, headers, ca: this.ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = raw.toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            /* a page, not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text, raw });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
    const set = answer.headers['set-cookie'];
    const first = Array.isArray(set) ? set[0] : set;
    if (first) {
      const value = first.split(';')[0]!;
      this.cookie = value.endsWith('=') ? undefined : value;
    }
    if (typeof answer.body.csrf === 'string') this.csrf = answer.body.csrf;
    return answer;
  }

  get(url: string): Promise<WebAnswer> {
    return this.request('GET', url);
  }

  post(url: string, body?: unknown, options?: Parameters<WebClient['request']>[3]): Promise<WebAnswer> {
    return this.request('POST', url, body ?? {}, options);
  }
}
