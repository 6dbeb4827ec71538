// Polls a condition until it holds or the deadline passes: for waiting on another
// process or socket, never on time itself (an injected clock moves that).

export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, ms = 5000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
