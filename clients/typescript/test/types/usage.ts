// Compiled (not run) by `npm run typecheck`: the published typings as a user
// of the package sees them, through its package.json exports.
import {
  createClient,
  isPiCloudError,
  localStorageStorage,
  tokenExpiry,
  type PiCloudError,
  type Subscription,
  type TopicMessage,
} from "@picloud/client";
import { PiCloudProvider, useEndpoint, useTopic } from "@picloud/client/react";
import { endpointStore, topicStore, type Readable } from "@picloud/client/svelte";

interface Todo {
  id: number;
  title: string;
}
interface NewTodo {
  title: string;
}

export async function endpoints(): Promise<void> {
  const client = createClient({ baseUrl: "https://todo.example.com", storage: localStorageStorage("todo.token") });
  const todos = client.endpoint<NewTodo, Todo[]>("/todos");
  const list: Todo[] = await todos.get({ done: false, tag: ["a", "b"] });
  const created: Todo[] = await todos.post({ title: "write docs" }, { timeoutMs: 5000 });
  // @ts-expect-error: the body must be a NewTodo
  await todos.post({ name: "wrong" });
  void list;
  void created;
  try {
    await client.auth.login({ username: "ada", password: "secret" });
  } catch (e) {
    if (isPiCloudError(e) && e.kind === "client" && e.status === 401) console.log(e.code, e.details, e.requestId);
  }
  const off: () => void = client.auth.onChange((token: string | null) => console.log(token));
  off();
  const expiry: Date | null = tokenExpiry("a.b");
  void expiry;
}

export function subscriptions(): Subscription {
  const client = createClient({ baseUrl: "https://chat.example.com" });
  const sub = client.subscribe<{ text: string }>(
    "chat",
    (m: TopicMessage<{ text: string }>) => console.log(m.message.text, m.id, m.publishedAt),
    {
      getToken: async () => (await client.endpoint<void, { token: string }>("/realtime-token").post()).token,
      onReset: (r) => console.log(r.latestId, r.reason),
      onError: (e: PiCloudError, info) => console.log(e.kind, info.reconnectInMs),
      onClose: (c) => console.log(c.reason, c.error?.code),
      backoff: { initialMs: 500, maxMs: 10000, factor: 2 },
    },
  );
  const state: "connecting" | "open" | "reconnecting" | "closed" = sub.state;
  const last: string | undefined = sub.lastEventId;
  void state;
  void last;
  return sub;
}

export function svelte(): void {
  const client = createClient({ baseUrl: "https://chat.example.com" });
  const chat: Readable<{ last: TopicMessage<{ text: string }> | null }> = topicStore<{ text: string }>(client, "chat");
  const todos = endpointStore<Todo[]>(client, "/todos");
  todos.subscribe((s) => s.data?.map((t) => t.title));
  todos.refresh();
  void chat;
}

export function ReactParts(): unknown {
  const topic = useTopic<{ text: string }>("chat", { keep: 50 });
  const first: string | undefined = topic.messages[0]?.message.text;
  const todos = useEndpoint<Todo[]>("/todos", { page: 1 });
  const count: number | undefined = todos.data?.length;
  todos.refresh();
  void first;
  void count;
  return PiCloudProvider({ client: createClient({ baseUrl: "/" }), children: null });
}
