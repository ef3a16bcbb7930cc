// Shapes of the admin API's answers the dashboard reads.

import type { Level, Role } from './access';

export interface AppRef {
  id: string;
  slug: string;
  name: string;
  role: Role;
}

export interface App extends AppRef {
  description: string;
  hostnames: string[];
  cors_origins: string[];
  created_at: string;
  updated_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** A plugin's declared admin view (see the dashboard docs). */
export interface View {
  id: string;
  title: string;
  icon?: string;
  scope: 'app' | 'instance';
  description?: string;
  module?: string | null;
  sections?: any[];
  routes?: Record<string, { capability: string; level: Level }>;
  [k: string]: unknown;
}
