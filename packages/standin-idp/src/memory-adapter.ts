import type { Adapter, AdapterPayload } from 'oidc-provider';

/**
 * The stand-in's storage: the engine's records in a Map, per stand-in (the engine's built-in
 * quick-start adapter is one module-wide store, and warns at every start that it must be replaced:
 * right for a deployment, noise for a demo stand-in that is meant to forget everything on restart).
 */
export function createMemoryAdapter(): new (model: string) => Adapter {
  interface Entry {
    payload: AdapterPayload;
    expiresAt: number;
  }
  const records = new Map<string, Entry>();
  let writes = 0;
  // Expired records go when read, and in a sweep every 1,000 writes (a demo may run for days).
  const sweep = () => {
    const now = Date.now();
    for (const [key, entry] of records) if (entry.expiresAt <= now) records.delete(key);
  };
  const live = (key: string): AdapterPayload | undefined => {
    const entry = records.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      records.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  return class MemoryAdapter implements Adapter {
    constructor(private readonly model: string) {}

    private key(id: string): string {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY;
      records.set(this.key(id), { payload: { ...payload }, expiresAt });
      if (++writes % 1000 === 0) sweep();
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return live(this.key(id));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      for (const key of records.keys()) {
        if (!key.startsWith(`${this.model}:`)) continue;
        const payload = live(key);
        if (payload?.uid === uid) return payload;
      }
      return undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      for (const key of records.keys()) {
        if (!key.startsWith(`${this.model}:`)) continue;
        const payload = live(key);
        if (payload?.userCode === userCode) return payload;
      }
      return undefined;
    }

    async consume(id: string): Promise<void> {
      const payload = live(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      records.delete(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, entry] of records) if (entry.payload.grantId === grantId) records.delete(key);
    }
  };
}
