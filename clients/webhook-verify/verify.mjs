// Verifies one webhook delivery the way receivers do, with the Standard Webhooks reference
// library: an implementation independent of the server's. Usage:
//   node verify.mjs SECRET ID TIMESTAMP SIGNATURE < body
// Exits 0 when the signature verifies, 1 when it does not. `--self-test` signs and verifies
// a message of its own (the package's `npm test`).
import { Webhook } from "standardwebhooks";

function verify(secret, id, timestamp, signature, body) {
  new Webhook(secret).verify(body, {
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": signature,
  });
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

const args = process.argv.slice(2);
try {
  if (args[0] === "--self-test") {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const hook = new Webhook(secret);
    const now = new Date();
    const body = '{"type":"alert"}';
    const signature = hook.sign("1", now, body);
    verify(secret, "1", String(Math.floor(now.getTime() / 1000)), signature, body);
  } else {
    const [secret, id, timestamp, signature] = args;
    verify(secret, id, timestamp, signature, await readStdin());
  }
  console.log("verified");
} catch (err) {
  console.error(`not verified: ${err.message}`);
  process.exit(1);
}
