import type { ComponentChildren, JSX } from 'preact';
import { href, linkClick } from '../router';

export type LinkProps = Omit<JSX.HTMLAttributes<HTMLAnchorElement>, 'href'> & {
  /** A path inside the dashboard, e.g. "/apps/shop". */
  to: string;
  children?: ComponentChildren;
};

/** An <a> that navigates inside the dashboard without reloading the page. */
export function Link({ to, children, onClick, ...rest }: LinkProps) {
  return (
    <a
      {...rest}
      href={href(to)}
      onClick={(e) => {
        if (onClick) (onClick as any)(e);
        linkClick(e as unknown as MouseEvent, to);
      }}
    >
      {children}
    </a>
  );
}
