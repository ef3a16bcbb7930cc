import { useEffect, useRef, useState } from 'preact/hooks';
import { match, useLocation } from '../router';
import { usePlugins, useSession } from '../session';
import { Icon, Link } from '../ui';
import { AppsList } from './AppsList';
import { AppPage } from './AppPage';
import { Users } from './Users';
import { Keys } from './Keys';
import { Password } from './Password';
import { Plugins } from './Plugins';
import { Health } from './Health';
import { InstancePluginView } from './PluginViewHost';
import { NotFound } from './NotFound';

const DIALOG_PATH = /^\/apps\/[^/]+\/executions\/[^/]+$/;

interface NavItem {
  to: string;
  label: string;
  icon: string;
  active: (path: string) => boolean;
}

export function Shell() {
  const { me, signOut } = useSession();
  const plugins = usePlugins();
  const { path } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);
  const prevPath = useRef(path);

  // Move focus to the page on navigation, so keyboard and screen reader users
  // start at its heading (an app's tab: the tab's heading, next to the tabs).
  useEffect(() => {
    setMenuOpen(false);
    const prev = prevPath.current;
    prevPath.current = path;
    if (first.current) {
      first.current = false;
      return;
    }
    // Opening or closing a record's dialog (an execution) is not a new page: the dialog handles focus.
    if (DIALOG_PATH.test(path) || DIALOG_PATH.test(prev)) return;
    // Wait a frame: lazily loaded pages render their heading a moment later.
    const id = requestAnimationFrame(() => {
      const main = mainRef.current;
      const h = main?.querySelector<HTMLElement>('.tab-body h2') ?? main?.querySelector<HTMLElement>('h1');
      if (h && !document.querySelector('dialog[open]')) {
        h.tabIndex = -1;
        h.focus({ preventScroll: true });
      }
    });
    return () => cancelAnimationFrame(id);
  }, [path]);

  useEffect(() => {
    if (!menuOpen) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setMenuOpen(false);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [menuOpen]);

  const items: NavItem[] = [{ to: '/', label: 'Apps', icon: 'apps', active: (p) => p === '/' || p.startsWith('/apps') }];
  if (me.owner) items.push({ to: '/users', label: 'Users', icon: 'users', active: (p) => p.startsWith('/users') });
  items.push({ to: '/plugins', label: 'Plugins', icon: 'plug', active: (p) => p.startsWith('/plugins') });
  if (me.owner) items.push({ to: '/health', label: 'Health', icon: 'pulse', active: (p) => p.startsWith('/health') });

  const instanceViews = (plugins?.items ?? []).flatMap((p) =>
    (p.views ?? []).filter((v) => v.scope === 'instance').map((v) => ({ plugin: p.name, view: v })),
  );

  const account: NavItem[] = [
    { to: '/keys', label: 'API keys', icon: 'key', active: (p) => p.startsWith('/keys') },
    { to: '/password', label: 'Password', icon: 'lock', active: (p) => p.startsWith('/password') },
  ];

  let page;
  let m: Record<string, string> | null;
  if (path === '/' || path === '') page = <AppsList />;
  else if ((m = match('/apps/:app/*', path)) || (m = match('/apps/:app', path))) page = <AppPage slug={m.app} rest={m['*'] ?? ''} />;
  else if (path === '/users') page = <Users />;
  else if (path === '/keys') page = <Keys />;
  else if (path === '/password') page = <Password />;
  else if (path === '/plugins') page = <Plugins />;
  else if (path === '/health') page = <Health />;
  else if ((m = match('/x/:plugin/:view', path))) page = <InstancePluginView plugin={m.plugin} viewId={m.view} />;
  else page = <NotFound />;

  const navLink = (it: NavItem) => {
    const active = it.active(path);
    return (
      <li>
        <Link to={it.to} class={`nav-link ${active ? 'active' : ''}`} aria-current={active ? 'page' : undefined}>
          <Icon name={it.icon} />
          <span>{it.label}</span>
        </Link>
      </li>
    );
  };

  return (
    <div class={`shell ${menuOpen ? 'menu-open' : ''}`}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <button
          type="button"
          class="btn-icon menu-toggle"
          aria-label="Menu"
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          <Icon name="menu" size={20} />
        </button>
        <Link to="/" class="brand">
          <Icon name="cloud" size={22} />
          <span>PiCloud</span>
        </Link>
        <div class="topbar-user">
          <span class="user-chip" title={me.owner ? 'instance owner' : undefined}>
            <Icon name="user" size={16} />
            <span>{me.username}</span>
            {me.owner && <span class="badge badge-muted">owner</span>}
          </span>
          <button type="button" class="btn btn-ghost btn-small" onClick={() => void signOut()}>
            <Icon name="logout" size={16} />
            Sign out
          </button>
        </div>
      </header>
      <nav id="sidebar" class="sidebar" aria-label="Main">
        <ul class="nav-list">{items.map(navLink)}</ul>
        {instanceViews.length > 0 && (
          <>
            <h2 class="nav-heading" id="nav-plugins">
              Plugin views
            </h2>
            <ul class="nav-list" aria-labelledby="nav-plugins">
              {instanceViews.map(({ plugin, view }) =>
                navLink({
                  to: `/x/${encodeURIComponent(plugin)}/${encodeURIComponent(view.id)}`,
                  label: view.title,
                  icon: view.icon ?? 'puzzle',
                  active: (p) => p === `/x/${plugin}/${view.id}`,
                }),
              )}
            </ul>
          </>
        )}
        <h2 class="nav-heading" id="nav-account">
          Account
        </h2>
        <ul class="nav-list" aria-labelledby="nav-account">
          {account.map(navLink)}
        </ul>
      </nav>
      <main id="main" class="content" ref={mainRef}>
        {page}
      </main>
    </div>
  );
}
