// A lab in a link: the topology's text in the URL fragment, `#yaml=` (base64url of the text)
// or `#yamlz=` (base64url of its raw DEFLATE, CompressionStream: what "Copy link" makes).

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unb64url(s: string): Uint8Array {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}

async function pipe(bytes: Uint8Array, t: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const s = new Blob([bytes as BlobPart]).stream().pipeThrough(t as unknown as TransformStream<Uint8Array, Uint8Array>);
  return new Uint8Array(await new Response(s).arrayBuffer());
}

export async function encodeFragment(text: string): Promise<string> {
  const z = await pipe(new TextEncoder().encode(text), new CompressionStream("deflate-raw"));
  return `#yamlz=${b64url(z)}`;
}

/** The topology text in a fragment, or undefined if it has none; throws on a damaged one. */
export async function decodeFragment(hash: string): Promise<string | undefined> {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const z = params.get("yamlz");
  if (z) return new TextDecoder("utf-8", { fatal: true }).decode(await pipe(unb64url(z), new DecompressionStream("deflate-raw")));
  const plain = params.get("yaml");
  if (plain) return new TextDecoder("utf-8", { fatal: true }).decode(unb64url(plain));
  return undefined;
}

export function plainFragment(text: string): string {
  return `#yaml=${b64url(new TextEncoder().encode(text))}`;
}
