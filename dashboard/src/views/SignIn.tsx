import { useEffect, useRef, useState } from 'preact/hooks';
import { ADMIN, request } from '../api';
import type { Me } from '../session';
import { ErrorBanner, Icon } from '../ui';
import { useTitle } from '../hooks';

/** The sign-in page. */
export function SignIn(props: { notice?: string; onSignedIn: (me: Me) => void }) {
  useTitle('Sign in');
  return (
    <main class="signin">
      <SignInForm {...props} card heading />
    </main>
  );
}

/** The form alone: on the sign-in page, or in a dialog when a session ends while a page is open. */
export function SignInForm(props: { notice?: string; onSignedIn: (me: Me) => void; card?: boolean; heading?: boolean; username?: string }) {
  const [username, setUsername] = useState(props.username ?? '');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const userRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (props.username) document.getElementById('signin-password')?.focus();
    else userRef.current?.focus();
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
    <form class={props.card ? 'signin-card' : 'form'} onSubmit={submit} aria-label="Sign in">
      {props.heading && (
        <>
          <div class="signin-brand">
            <Icon name="cloud" size={32} />
            <span>PiCloud</span>
          </div>
          <h1>Sign in</h1>
        </>
      )}
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
          autofocus={!props.username}
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
          autofocus={!!props.username}
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
  );
}
