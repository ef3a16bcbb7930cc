import { useEffect, useRef, useState } from 'preact/hooks';
import { ADMIN, request } from '../api';
import type { Me } from '../session';
import { ErrorBanner, Icon } from '../ui';
import { useTitle } from '../hooks';

export function SignIn(props: { notice?: string; onSignedIn: (me: Me) => void }) {
  useTitle('Sign in');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const userRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    userRef.current?.focus();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await request<any>('POST', `${ADMIN}/login`, { body: { username: username.trim(), password } });
      const u = r.user;
      props.onSignedIn({ id: u.id, username: u.username, owner: !!u.owner });
    } catch (err) {
      setError(err);
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin">
      <form class="signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <div class="signin-brand">
          <Icon name="cloud" size={32} />
          <span>PiCloud</span>
        </div>
        <h1 id="signin-title">Sign in</h1>
        {props.notice && !error && (
          <p class="banner banner-info" role="status">
            {props.notice}
          </p>
        )}
        {error != null && <ErrorBanner error={error} />}
        <div class="field">
          <label for="signin-username">Username</label>
          <input
            id="signin-username"
            ref={userRef}
            name="username"
            autocomplete="username"
            autocapitalize="none"
            spellcheck={false}
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="signin-password">Password</label>
          <input
            id="signin-password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </div>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy} aria-busy={busy}>
          Sign in
        </button>
        <p class="sr-only" role="status" aria-live="polite">
          {busy ? 'Signing in…' : ''}
        </p>
      </form>
    </main>
  );
}
