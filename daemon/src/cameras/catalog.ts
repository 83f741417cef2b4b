import type { AuditActor, AuditLog } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import { redactString } from '../log/redact.js';
import type { Db } from '../db/db.js';
import { CamerasRepo, type Camera, type CameraFields, type Transport } from '../db/repos/cameras.js';
import type { Clock } from '../util/clock.js';
import { HindsightError, UsageError } from '../util/errors.js';
import { assertSafeId } from '../util/ids.js';
import { CredentialVault, credentialsKeyPath, type CameraCredentials, type SealedCredentials } from './credentials.js';
import { CameraNetworks } from './networks.js';
import { resolveCameraUrl, systemLookup, type Lookup, type ResolvedCameraUrl } from './url.js';

export interface CameraInput {
  id: string;
  name: string;
  url: string;
  transport?: Transport;
  zone?: string;
  enabled?: boolean;
  credentials?: CameraCredentials;
}

export interface CameraPatch {
  name?: string;
  url?: string;
  transport?: Transport;
  zone?: string;
  enabled?: boolean;
  /** New credentials, or null to clear them. */
  credentials?: CameraCredentials | null;
}

/** What the recorder and the probe connect to: the checked address, and the credentials for the relay only. */
export interface CameraTarget {
  camera: Camera;
  resolved: ResolvedCameraUrl;
  /** In memory only: the relay answers the camera's challenge with them (never log or pass them to a child). */
  credentials?: CameraCredentials;
  /** Literal secrets to scrub from any ffmpeg output before it is shown or logged. */
  secrets: string[];
}

export interface CameraCatalogDeps {
  db: Db;
  audit: AuditLog;
  clock: Clock;
  networks: CameraNetworks;
  vault: CredentialVault;
  lookup?: Lookup;
}

const PRINTABLE = /^[^\x00-\x1f\x7f]*$/;

function text(value: string, what: string, max: number, required: boolean): string {
  const v = value.trim();
  if (required && v.length === 0) throw new UsageError(`the camera ${what} is empty`, { hint: `give a ${what}` });
  if (v.length > max) throw new UsageError(`the camera ${what} is longer than ${max} characters`, { hint: `shorten the ${what}` });
  if (!PRINTABLE.test(v)) throw new UsageError(`the camera ${what} contains control characters`, { hint: `type the ${what} again` });
  return v;
}

function checkCredentials(c: CameraCredentials): CameraCredentials {
  if (c.username.length === 0 || c.username.length > 128 || !PRINTABLE.test(c.username)) {
    throw new UsageError('the camera username must be 1-128 characters without control characters', { hint: 'check the username' });
  }
  if (c.password.length === 0) {
    throw new UsageError(`no password was given for camera user ${c.username}`, { hint: 'pipe it in with --password-stdin (or type it when asked), or name a file with --password-file' });
  }
  if (c.password.length > 256 || !PRINTABLE.test(c.password)) {
    throw new UsageError('the camera password must be at most 256 characters without control characters or line breaks', { hint: 'check the password' });
  }
  return { username: c.username, password: c.password };
}

function checkTransport(t: string): Transport {
  if (t !== 'tcp' && t !== 'udp') throw new UsageError(`transport must be tcp or udp, not ${JSON.stringify(t)}`, { hint: 'use tcp unless the camera only streams over UDP' });
  return t;
}

/**
 * The camera registry: validation (ids, URLs against SSRF, credentials), encryption of credentials at rest,
 * and an audit row with every change, in one transaction. Used by the CLI (also while the daemon runs: the
 * daemon notices the revision bump) and by the web UI.
 */
export class CameraCatalog {
  private readonly repo: CamerasRepo;
  private readonly lookup: Lookup;

  constructor(private readonly deps: CameraCatalogDeps) {
    this.repo = new CamerasRepo(deps.db);
    this.lookup = deps.lookup ?? systemLookup;
  }

  static fromConfig(config: Config, stateDir: string, store: { db: Db; audit: AuditLog; clock: Clock }, options: { lookup?: Lookup; env?: NodeJS.ProcessEnv } = {}): CameraCatalog {
    return new CameraCatalog({
      ...store,
      networks: new CameraNetworks(config.cameras.networks),
      vault: new CredentialVault(credentialsKeyPath(config.cameras.credentials_key_file, stateDir, options.env)),
      lookup: options.lookup,
    });
  }

  get networks(): CameraNetworks {
    return this.deps.networks;
  }

  list(): Camera[] {
    return this.repo.list();
  }

  get(id: string): Camera | undefined {
    return this.repo.get(id);
  }

  require(id: string): Camera {
    assertSafeId(id, 'camera id');
    const c = this.repo.get(id);
    if (!c) throw new HindsightError(`there is no camera ${id}`, { code: 'not_found', hint: '`hindsight camera list` shows the cameras' });
    return c;
  }

  /** Bumped by every change (the daemon reloads when it moves). */
  revision(): number {
    return this.repo.revision();
  }

  async add(input: CameraInput, actor: AuditActor): Promise<Camera> {
    return this.audited('camera.add', input.id, actor, input.url, async () => {
      const id = assertSafeId(input.id, 'camera id');
      if (this.repo.get(id)) throw new UsageError(`camera ${id} already exists`, { hint: 'choose another --id, or change it with `hindsight camera update`' });
      const resolved = await resolveCameraUrl(input.url, this.deps.networks, this.lookup);
      const fields: CameraFields = {
        id,
        name: text(input.name, 'name', 100, true),
        url: resolved.url,
        transport: checkTransport(input.transport ?? 'tcp'),
        zone: text(input.zone ?? '', 'zone', 64, false),
        enabled: input.enabled ?? true,
      };
      const sealed = input.credentials ? this.deps.vault.seal(id, checkCredentials(input.credentials)) : undefined;
      return this.deps.db.transaction(() => {
        const now = this.deps.clock.now();
        this.repo.insert(fields, sealed, now);
        this.deps.audit.append({ actor, action: 'camera.added', objectIds: [id], detail: { ...describe(fields), credentials: sealed ? 'set' : 'none' } });
        return this.repo.get(id)!;
      })();
    });
  }

  async update(id: string, patch: CameraPatch, actor: AuditActor): Promise<Camera> {
    return this.audited('camera.update', id, actor, patch.url, async () => {
      const current = this.require(id);
      const resolved = patch.url !== undefined ? await resolveCameraUrl(patch.url, this.deps.networks, this.lookup) : undefined;
      const fields: CameraFields = {
        id,
        name: patch.name !== undefined ? text(patch.name, 'name', 100, true) : current.name,
        url: resolved?.url ?? current.url,
        transport: patch.transport !== undefined ? checkTransport(patch.transport) : current.transport,
        zone: patch.zone !== undefined ? text(patch.zone, 'zone', 64, false) : current.zone,
        enabled: patch.enabled ?? current.enabled,
      };
      let sealed: SealedCredentials | null | undefined;
      if (patch.credentials === null) sealed = null;
      else if (patch.credentials) sealed = this.deps.vault.seal(id, checkCredentials(patch.credentials));
      const changed = (Object.keys(fields) as (keyof CameraFields)[]).filter((k) => fields[k] !== current[k]);
      if (sealed !== undefined) changed.push('credentials' as keyof CameraFields);
      if (changed.length === 0) throw new NothingToChange(id);
      return this.deps.db.transaction(() => {
        this.repo.update(fields, sealed, this.deps.clock.now());
        this.deps.audit.append({
          actor,
          action: 'camera.updated',
          objectIds: [id],
          detail: { changed, ...describe(fields), credentials: sealed === undefined ? 'unchanged' : sealed === null ? 'cleared' : 'set' },
        });
        return this.repo.get(id)!;
      })();
    });
  }

  /** Unregister a camera. Its buffered footage stays until retention removes it (locked footage until released). */
  remove(id: string, actor: AuditActor): Camera {
    const camera = this.require(id);
    return this.deps.db.transaction(() => {
      this.repo.remove(id);
      this.deps.audit.append({ actor, action: 'camera.removed', objectIds: [id], detail: describe(camera) });
      return camera;
    })();
  }

  /** Decrypted credentials for the recorder and the probe; undefined when the camera has none. */
  credentials(id: string): CameraCredentials | undefined {
    const sealed = this.repo.sealedCredentials(id);
    return sealed && this.deps.vault.open(id, sealed);
  }

  /** Resolve and check the camera's URL again (DNS may have changed) and build what ffmpeg connects to. */
  async target(id: string): Promise<CameraTarget> {
    const camera = this.require(id);
    return this.targetFor(camera, camera.url, this.credentials(id));
  }

  /** The same for a URL that is not registered (`camera test --url`). */
  async targetFor(camera: Camera, url: string, credentials: CameraCredentials | undefined): Promise<CameraTarget> {
    const resolved = await resolveCameraUrl(url, this.deps.networks, this.lookup);
    const secrets = credentials ? [credentials.password, encodeURIComponent(credentials.password)].filter((s) => s.length >= 3) : [];
    return { camera, resolved, credentials, secrets };
  }

  /** Run a change; a refused one is audited as denied (with the URL redacted) before the error goes back. */
  private async audited<T>(action: string, id: unknown, actor: AuditActor, url: string | undefined, change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } catch (err) {
      if (err instanceof HindsightError && !(err instanceof NothingToChange)) {
        this.deps.audit.append({
          actor,
          action,
          objectIds: typeof id === 'string' ? [id.slice(0, 64)] : [],
          result: 'denied',
          detail: { reason: redactString(err.message).slice(0, 300), ...(url !== undefined ? { url: redactString(String(url)).slice(0, 200) } : {}) },
        });
      }
      throw err;
    }
  }
}

/** An update that changes nothing: refused, and not audited (nothing happened to any record). */
class NothingToChange extends UsageError {
  constructor(id: string) {
    super(`nothing to change: camera ${id} already has these settings`, {
      code: 'no_change',
      hint: 'give what should change, e.g. --name, --url, --zone, --enable or --disable (`hindsight camera update --help` lists all)',
    });
  }
}

function describe(c: CameraFields | Camera): Record<string, unknown> {
  return { name: c.name, url: c.url, transport: c.transport, zone: c.zone, enabled: c.enabled };
}
