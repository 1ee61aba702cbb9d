// GET /health of the companion: its version, uptime and the models it serves itself (for the Dashboard).
import type { CompanionApi } from './companion-api.ts';

export interface HealthModel {
  id: string;
  backend: string;
  layers: number;
  contextLength: number;
}

/** What the companion's stage checks found (mesh/pipeline/stage-check.ts StageCheckStatus). */
export interface HealthStageChecks {
  mode: string;
  note?: string;
  checks: number;
  mismatches: number;
  refused: number;
  quarantined: { peerId: string; reason: string; until: number }[];
}

export interface CompanionHealth {
  url: string;
  version: string;
  uptimeS: number;
  models: HealthModel[];
  /** Absent: this companion plans no model across the mesh (or predates stage checks). */
  stageChecks?: HealthStageChecks;
}

export async function fetchCompanionHealth(api: CompanionApi, fetchFn: typeof fetch = fetch): Promise<CompanionHealth> {
  const headers: Record<string, string> = api.token ? { authorization: `Bearer ${api.token}` } : {};
  const res = await fetchFn(`${api.url}/health`, { cache: 'no-store', headers, mode: 'cors', credentials: 'omit', signal: AbortSignal.timeout(4000) });
  if (!res.ok) throw new Error(`the companion at ${api.url} answered /health with ${res.status}`);
  return parseHealth(api.url, await res.json());
}

/** Tolerant of older or newer companions: unknown fields are ignored, missing ones defaulted. */
export function parseHealth(url: string, body: unknown): CompanionHealth {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const models = Array.isArray(b.models) ? b.models : [];
  const checks = parseStageChecks(b.stage_checks);
  return {
    ...(checks ? { stageChecks: checks } : {}),
    url,
    version: typeof b.version === 'string' ? b.version : '',
    uptimeS: typeof b.uptime_s === 'number' ? b.uptime_s : 0,
    models: models.flatMap((m) => {
      const r = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
      if (typeof r.id !== 'string') return [];
      return [
        {
          id: r.id,
          backend: typeof r.backend === 'string' ? r.backend : '',
          layers: typeof r.layers === 'number' ? r.layers : 0,
          contextLength: typeof r.context_length === 'number' ? r.context_length : 0,
        },
      ];
    }),
  };
}

function parseStageChecks(body: unknown): HealthStageChecks | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const n = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
  const out = Array.isArray(b.quarantined) ? b.quarantined : [];
  return {
    mode: typeof b.mode === 'string' ? b.mode : 'unknown',
    ...(typeof b.note === 'string' ? { note: b.note } : {}),
    checks: n(b.checks),
    mismatches: n(b.mismatches),
    refused: n(b.refused),
    quarantined: out.flatMap((q) => {
      const r = (typeof q === 'object' && q !== null ? q : {}) as Record<string, unknown>;
      return typeof r.peerId === 'string' ? [{ peerId: r.peerId, reason: typeof r.reason === 'string' ? r.reason : '', until: n(r.until) }] : [];
    }),
  };
}
