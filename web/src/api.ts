// The dashboard's only way to the server: REST API v1, with the signed-in token. Errors are
// the API's own problem details (RFC 7807), shown as they come.

import { session } from "./session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly code?: string,
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

export type Query = Record<string, string | number | undefined>;

// A path segment "." or ".." (encodeURIComponent leaves dots alone) would be folded away by the
// browser, and the request would go to another resource than the page meant: refused here.
function url(path: string, query?: Query): string {
  if (path.split("/").some((seg) => /^(\.|%2e){1,2}$/i.test(seg))) {
    throw new ApiError(400, "Bad address", "a name of '.' or '..' cannot be asked for");
  }
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  return `/api/v1${path}${qs ? `?${qs}` : ""}`;
}

async function problem(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { title?: string; detail?: string; code?: string };
    return new ApiError(res.status, body.title ?? res.statusText, body.detail ?? "", body.code);
  } catch {
    return new ApiError(res.status, res.statusText || `HTTP ${res.status}`, "");
  }
}

// The Authorization header of the signed-in token.
function session_headers(): Record<string, string> {
  const token = session.token();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export async function request<T>(
  method: string,
  path: string,
  options: { query?: Query; body?: unknown; token?: string } = {},
): Promise<T> {
  const token = options.token ?? session.token();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const init: RequestInit = { method, headers, credentials: "omit", cache: "no-store" };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const res = await fetch(url(path, options.query), init);
  if (res.status === 401 && !options.token) session.clear();
  if (!res.ok) throw await problem(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

// A file from the API (a certificate, a report), fetched with the token as every request is;
// the API's problem on failure. A link could not carry the token, and a token in a URL ends up
// in logs and history.
export async function fetch_file(path: string, query?: Query): Promise<Response> {
  const res = await fetch(url(path, query), { headers: session_headers(), credentials: "omit", cache: "no-store" });
  if (res.status === 401) session.clear();
  if (!res.ok) throw await problem(res);
  return res;
}

export const get = <T>(path: string, query?: Query) =>
  request<T>("GET", path, query ? { query } : {});

export interface Identity {
  principal: string;
  role: string;
  team: string | null;
  actor: string;
}

export interface CertificateRecord {
  fingerprint: string;
  serial: string;
  subject: string;
  sans: string[];
  not_after: string;
  status: string;
  origin: string;
  channel?: string;
  authority: string | null;
  profile: string | null;
  owner: string | null;
  team: string | null;
  tags: string[];
  revoked_at?: string;
  revocation_reason?: string;
  issuer?: string;
  not_before?: string;
}

export interface CertificatePage {
  items: CertificateRecord[];
  next_cursor: string | null;
}

// A report in JSON: its sections' rows, keyed by section id, each row keyed by column.
export type ReportRow = Record<string, string | number | null>;
export interface Report {
  report: string;
  title: string;
  generated_at: string;
  sections: Record<string, ReportRow[]>;
}
