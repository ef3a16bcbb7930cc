export function App() {
  return <main>PiCloud</main>;
}
