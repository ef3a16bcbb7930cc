import { useEffect, useMemo, useState } from 'preact/hooks';
import { ADMIN, ApiError, onUnauthorized, request } from './api';
import { fetchMe, resetPlugins, SessionProvider, type Me, type Session } from './session';
import { SignIn, SignInForm } from './views/SignIn';
import { Shell } from './views/Shell';
import { Dialog, ErrorBanner } from './ui';

type Boot =
  | { state: 'loading' }
  | { state: 'signed_out'; reason?: string }
  | { state: 'signed_in'; me: Me; expired?: boolean }
  | { state: 'error'; error: unknown };

export function App() {
  const [boot, setBoot] = useState<Boot>({ state: 'loading' });

  const load = async () => {
    try {
      const me = await fetchMe();
      setBoot({ state: 'signed_in', me });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setBoot({ state: 'signed_out' });
      else setBoot({ state: 'error', error: e });
    }
  };

  useEffect(() => {
    void load();
    // A session that ends while a page is open (expiry, sign-out elsewhere) asks
    // to sign in again over the page, so unsaved work there is kept.
    return onUnauthorized(() => {
      setBoot((b) => (b.state === 'signed_in' ? { ...b, expired: true } : b));
    });
  }, []);

  const session = useMemo<Session | null>(() => {
    if (boot.state !== 'signed_in') return null;
    return {
      me: boot.me,
      refresh: async () => {
        const me = await fetchMe();
        setBoot({ state: 'signed_in', me });
      },
      signOut: async () => {
        try {
          await request('POST', `${ADMIN}/logout`);
        } catch {
          /* the session may be gone already */
        }
        resetPlugins();
        setBoot({ state: 'signed_out', reason: 'You are signed out.' });
      },
    };
  }, [boot]);

  if (boot.state === 'loading') {
    return (
      <div class="boot" role="status" aria-live="polite">
        Loading PiCloud…
      </div>
    );
  }
  if (boot.state === 'error') {
    return (
      <main class="boot">
        <h1>PiCloud</h1>
        <ErrorBanner error={boot.error} title="The admin API cannot be reached" onRetry={() => void load()} />
      </main>
    );
  }
  if (boot.state === 'signed_out' || !session) {
    return <SignIn notice={boot.state === 'signed_out' ? boot.reason : undefined} onSignedIn={(me) => setBoot({ state: 'signed_in', me })} />;
  }
  const me = boot.me;
  return (
    <SessionProvider value={session}>
      <Shell />
      <Dialog open={!!boot.expired} title="Session ended" onClose={() => void session.signOut()}>
        <SignInForm
          notice="Your session has ended. Sign in again to continue where you were."
          username={me.username}
          onSignedIn={(next) => {
            if (next.id !== me.id) resetPlugins();
            setBoot({ state: 'signed_in', me: next });
          }}
        />
      </Dialog>
    </SessionProvider>
  );
}
