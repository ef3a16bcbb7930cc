// What a user may do, after the admin API's levels: owner ≥ app_admin ≥
// app_editor ≥ app_viewer ≥ signed_in. Owners act as admin in every app.
// Used only to decide what to render; the API checks every request anyway.

export type Level = 'signed_in' | 'app_viewer' | 'app_editor' | 'app_admin' | 'owner';
export type Role = 'viewer' | 'editor' | 'admin';

const ROLE_RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };
const LEVEL_RANK: Record<Level, number> = { signed_in: 0, app_viewer: 1, app_editor: 2, app_admin: 3, owner: 4 };

export function allowed(level: Level, role: Role | null, owner: boolean): boolean {
  if (owner) return true;
  const need = LEVEL_RANK[level];
  if (need === undefined) return false;
  if (need === 0) return true;
  if (need >= 4) return false;
  if (!role) return false;
  return (ROLE_RANK[role] ?? 0) >= need;
}

/** The role to check against for a user in an app (owners are admin everywhere). */
export function effectiveRole(role: Role | null | undefined, owner: boolean): Role | null {
  return owner ? 'admin' : (role ?? null);
}
