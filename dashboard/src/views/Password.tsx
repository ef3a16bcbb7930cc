import { useState } from 'preact/hooks';
import { ADMIN, request } from '../api';
import { useTitle } from '../hooks';
import { ErrorBanner, TextField, fieldError } from '../ui';

export function Password() {
  useTitle('Change password');
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [mismatch, setMismatch] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setStatus('');
    if (next !== again) {
      setMismatch('The two new passwords differ.');
      return;
    }
    setMismatch(null);
    setBusy(true);
    try {
      await request('PUT', `${ADMIN}/me/password`, { body: { current_password: current, new_password: next } });
      setCurrent('');
      setNext('');
      setAgain('');
      setStatus('Password changed. Your other sessions have ended; this one continues.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="page narrow">
      <h1>Change password</h1>
      <form class="card form" onSubmit={submit}>
        {error != null && !fieldError(error, 'new_password') && !fieldError(error, 'current_password') && <ErrorBanner error={error} />}
        <p class="live-status banner-ok-text" role="status" aria-live="polite">
          {status}
        </p>
        <TextField
          label="Current password"
          type="password"
          autocomplete="current-password"
          required
          value={current}
          onValue={setCurrent}
          error={fieldError(error, 'current_password')}
        />
        <TextField
          label="New password"
          type="password"
          autocomplete="new-password"
          required
          minLength={12}
          value={next}
          onValue={setNext}
          hint="At least 12 characters. Long passphrases are best; common, repeated and sequential ones and ones containing your user name are refused."
          error={fieldError(error, 'new_password')}
        />
        <TextField label="New password again" type="password" autocomplete="new-password" required value={again} onValue={setAgain} error={mismatch} />
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>
            Change password
          </button>
        </div>
      </form>
    </section>
  );
}
