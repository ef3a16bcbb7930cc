import type { ComponentChildren } from 'preact';
import { useEffect, useId, useState } from 'preact/hooks';
import { Dialog } from './Dialog';
import { ErrorBanner } from './ErrorBanner';

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  message: ComponentChildren;
  /** The confirming button's label, e.g. "Delete". */
  confirmLabel?: string;
  cancelLabel?: string;
  /** A destructive action: the confirm button is red. */
  danger?: boolean;
  /** May return a promise; while it runs the buttons are disabled; a throw is shown in the dialog. */
  onConfirm: () => void | Promise<unknown>;
  onCancel: () => void;
  /** Extra content between the message and the buttons (e.g. a reason field). */
  children?: ComponentChildren;
}

/** A confirmation as a real dialog. Cancel is focused first, so Enter never destroys by accident. */
export function ConfirmDialog(props: ConfirmDialogProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const msgId = useId();

  useEffect(() => {
    if (props.open) {
      setError(null);
      setBusy(false);
    }
  }, [props.open]);

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      open={props.open}
      title={props.title}
      onClose={() => !busy && props.onCancel()}
      describedBy={msgId}
      footer={
        <>
          <button type="button" class="btn" onClick={props.onCancel} disabled={busy} autofocus>
            {props.cancelLabel ?? 'Cancel'}
          </button>
          <button type="button" class={props.danger ? 'btn btn-danger' : 'btn btn-primary'} onClick={confirm} disabled={busy}>
            {props.confirmLabel ?? 'Confirm'}
          </button>
        </>
      }
    >
      <div id={msgId} class="confirm-message">
        {props.message}
      </div>
      {props.children}
      {error != null && <ErrorBanner error={error} />}
    </Dialog>
  );
}
