// Files in memory, for a worker that has no file system: the platform hooks (openFile,
// joinPath, resolvePath, tempDir, checkWritable) over a Map of paths to bytes, so the shell's
// `capture IF on [FILE]` and a topology's capture steps write files the page can list and
// download, exactly as they would write files under Node.

import type { ByteSink, Platform } from "../lib/platform.js";

export interface MemFile {
  path: string;
  bytes: number;
  /** Still being written (a capture running). */
  open: boolean;
}

export class MemFs {
  readonly #files = new Map<string, { chunks: Uint8Array[]; size: number; open: boolean }>();

  /** "/tmp/x.pcap" from "x.pcap", "/a/../b" -> "/b". */
  resolve(path: string, cwd = "/"): string {
    const parts: string[] = [];
    for (const p of (path.startsWith("/") ? path : `${cwd}/${path}`).split("/")) {
      if (p === "" || p === ".") continue;
      if (p === "..") parts.pop();
      else parts.push(p);
    }
    return `/${parts.join("/")}`;
  }

  open(path: string): ByteSink {
    const f = { chunks: [] as Uint8Array[], size: 0, open: true };
    this.#files.set(this.resolve(path), f);
    return {
      write(chunk: Uint8Array) {
        f.chunks.push(chunk.slice());
        f.size += chunk.length;
        return true;
      },
      end(cb?: () => void) {
        f.open = false;
        cb?.();
      },
    };
  }

  list(): MemFile[] {
    return [...this.#files].map(([path, f]) => ({ path, bytes: f.size, open: f.open })).sort((a, b) => a.path.localeCompare(b.path));
  }

  /** A file's bytes so far (a file still being written is a valid prefix: pcap and pcapng are streams). */
  read(path: string): Uint8Array | undefined {
    const f = this.#files.get(this.resolve(path));
    if (!f) return undefined;
    const out = new Uint8Array(f.size);
    let at = 0;
    for (const c of f.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  remove(path: string): boolean {
    return this.#files.delete(this.resolve(path));
  }

  clear(): void {
    this.#files.clear();
  }

  /** Platform hooks for files in this MemFs (merged over the platform in force). */
  hooks(): Pick<Platform, "openFile" | "joinPath" | "resolvePath" | "tempDir" | "checkWritable"> {
    return {
      openFile: (path) => this.open(path),
      joinPath: (dir, file) => `${dir.replace(/\/+$/, "")}/${file}`,
      resolvePath: (path) => this.resolve(path),
      tempDir: () => "/tmp",
      checkWritable: () => undefined,
    };
  }
}
