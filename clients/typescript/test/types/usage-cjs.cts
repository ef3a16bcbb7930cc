// The CommonJS typings: what a TypeScript project compiled to CommonJS sees.
import client = require("@picloud/client");
import react = require("@picloud/client/react");
import svelte = require("@picloud/client/svelte");

const c: client.PiCloudClient = client.createClient({ baseUrl: "http://127.0.0.1:8080" });
const sub: client.Subscription = c.subscribe<number>("ticks", (m) => m.message.toFixed());
sub.close();
export const hooks: [typeof react.useTopic, typeof svelte.topicStore] = [react.useTopic, svelte.topicStore];
