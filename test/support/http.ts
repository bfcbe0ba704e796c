/**
 * Plain HTTP GET from inside a network namespace (for listeners mcrd opens on a namespace's own
 * loopback, such as --metrics): a short node script run with `ip netns exec`.
 */
import { runIn } from './netns';

export interface HttpResponse {
  status: number;
  contentType: string;
  body: string;
}

/** Fetches the URL, reports status, content type and body as JSON; fails on a network error or timeout. */
const GET_SCRIPT = `
const http = require('http');
const req = http.get(process.argv[1], { timeout: Number(process.argv[2]) }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => (body += chunk));
  res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, contentType: res.headers['content-type'] || '', body })));
});
req.on('timeout', () => req.destroy(new Error('no answer within ' + process.argv[2] + ' ms')));
req.on('error', (err) => { process.stderr.write(err.message + '\\n'); process.exit(1); });
`;

/** GETs `url` from inside namespace `ns`. */
export async function httpGetIn(ns: string, url: string, timeoutMs = 5000): Promise<HttpResponse> {
  const out = await runIn(ns, [process.execPath, '-e', GET_SCRIPT, url, String(timeoutMs)], timeoutMs + 5000);
  return JSON.parse(out) as HttpResponse;
}
