import { Link } from '../ui';
import { useTitle } from '../hooks';

export function NotFound({ what }: { what?: string }) {
  useTitle('Not found');
  return (
    <section class="page">
      <h1>Not found</h1>
      <p>{what ?? 'There is no page at this address.'}</p>
      <p>
        <Link to="/">Back to the apps</Link>
      </p>
    </section>
  );
}
