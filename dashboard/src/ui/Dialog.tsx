import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';

export interface DialogProps {
  open: boolean;
  title: string;
  onClose: () => void;
  children?: ComponentChildren;
  /** Buttons at the bottom (right-aligned). */
  footer?: ComponentChildren;
  /** 'wide' for editors and JSON. */
  size?: 'normal' | 'wide';
  /** When set, aria-describedby points at the element with this id. */
  describedBy?: string;
  /** CSS class added to the <dialog>. */
  class?: string;
}

/**
 * A modal dialog on the native <dialog> element: the browser traps focus,
 * Esc closes it (through onClose), and focus returns to where it was.
 */
export function Dialog(props: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const returnTo = useRef<Element | null>(null);
  const onClose = useRef(props.onClose);
  onClose.current = props.onClose;

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) {
      returnTo.current = document.activeElement;
      d.showModal();
      const auto = d.querySelector<HTMLElement>('[autofocus]');
      if (auto) auto.focus();
    } else if (!props.open && d.open) {
      d.close();
    }
  }, [props.open]);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const cancel = (e: Event) => {
      e.preventDefault();
      onClose.current();
    };
    const closed = () => {
      const el = returnTo.current as HTMLElement | null;
      returnTo.current = null;
      if (el && typeof el.focus === 'function' && document.contains(el)) el.focus();
    };
    d.addEventListener('cancel', cancel);
    d.addEventListener('close', closed);
    return () => {
      d.removeEventListener('cancel', cancel);
      d.removeEventListener('close', closed);
      if (d.open) d.close();
    };
  }, []);

  return (
    <dialog
      ref={ref}
      class={`dialog ${props.size === 'wide' ? 'dialog-wide' : ''} ${props.class ?? ''}`}
      aria-labelledby={titleId}
      aria-describedby={props.describedBy}
    >
      {props.open && (
        <div class="dialog-box">
          <header class="dialog-head">
            <h2 id={titleId}>{props.title}</h2>
            <button type="button" class="btn-icon" aria-label="Close" onClick={props.onClose}>
              <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                <path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2" fill="none" stroke-linecap="round" />
              </svg>
            </button>
          </header>
          <div class="dialog-body">{props.children}</div>
          {props.footer && <footer class="dialog-foot">{props.footer}</footer>}
        </div>
      )}
    </dialog>
  );
}
