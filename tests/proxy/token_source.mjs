// livekit-client's own TokenSource, run in Node against the proxy, so the request is byte for
// byte what an app sends and the answer is read by the client's own parser.
// Usage: node token_source.mjs <livekit-client esm path> <json: {endpoint | sandbox, options}>
// Prints one JSON line: {serverUrl, participantToken} or {error}.
const [clientPath, argument] = process.argv.slice(2);
const { TokenSource } = await import(clientPath);
const { endpoint, sandbox, options } = JSON.parse(argument);
const source = sandbox
  ? TokenSource.sandboxTokenServer(sandbox.id, { baseUrl: sandbox.baseUrl })
  : TokenSource.endpoint(endpoint);
try {
  console.log(JSON.stringify(await source.fetch(options)));
} catch (error) {
  console.log(JSON.stringify({ error: String(error.message ?? error) }));
}
