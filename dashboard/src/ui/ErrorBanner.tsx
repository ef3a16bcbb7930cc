import { ApiError } from '../api';

export interface ErrorBannerProps {
  error: unknown;
  /** Shown before the message, e.g. "Could not save the script". */
  title?: string;
  onDismiss?: () => void;
  onRetry?: () => void;
}

/** An error as an alert: the API's message, its code and the field it names. */
export function ErrorBanner({ error, title, onDismiss, onRetry }: ErrorBannerProps) {
  if (error == null) return null;
  const api = error instanceof ApiError ? error : null;
  const message = api ? api.message : error instanceof Error ? error.message : String(error);
  const field = api?.details?.field ?? api?.details?.parameter;
  const retryAfter = api?.details?.retry_after_s;
  return (
    <div class="banner banner-error banner-row" role="alert">
      <svg class="banner-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
        <circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2" />
        <path d="M12 7v6M12 16.5v.5" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
      </svg>
      <div class="banner-text">
        {title && <strong>{title}: </strong>}
        <span>{message}</span>
        {(api || field) && (
          <span class="banner-meta">
            {api && api.status > 0 && <> {api.status}</>}
            {api && <> {api.code}</>}
            {field && <> · field {String(field)}</>}
            {retryAfter != null && <> · retry in {String(retryAfter)} s</>}
          </span>
        )}
      </div>
      {onRetry && (
        <button type="button" class="btn btn-small" onClick={onRetry}>
          Retry
        </button>
      )}
      {onDismiss && (
        <button type="button" class="btn-icon" aria-label="Dismiss error" onClick={onDismiss}>
          <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
            <path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2" fill="none" stroke-linecap="round" />
          </svg>
        </button>
      )}
    </div>
  );
}
