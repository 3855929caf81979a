// One process owns a PGlite data directory. PGlite itself does not stop a second process: its postmaster.pid
// holds a fixed fake pid (-42) that it ignores on open, so two processes would each keep their own buffers and
// overwrite each other's pages (writes lost, then `RuntimeError: Aborted()`). The lock file beside the
// directory (`<dir>.lock`, e.g. ./data/pglite.lock) names the owner so a second process can refuse, or talk to
// the owning server instead.
import { randomUUID } from 'node:crypto';
import { existsSync, linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

/** Who asks for a directory. */
export interface LockHolder {
  /** In the words a user typed: "npm start", "npm run train". */
  command: string;
  /** An API server: other commands can work through it once it has announced its URL. */
  serves: boolean;
}

export interface LockOwner extends LockHolder {
  pid: number;
  hostname: string;
  startedAt: string;
  /** Set once a server listens. */
  port?: number;
  url?: string;
  /** This acquisition; tells a lock apart from a later one by the same pid. */
  id: string;
  /**
   * The owner process's start time as the kernel counts it (Linux: field 22 of /proc/<pid>/stat, clock ticks
   * since boot), as PostgreSQL checks postmaster.pid: a live process with the same pid but another start time
   * is a reused pid, not the owner. Absent where /proc is not (then only the pid is checked).
   */
  processStart?: string;
}

/** A PGlite directory that cannot be opened; the message says why and what to do, in plain words. */
export class DatabaseOpenError extends Error {
  override name = 'DatabaseOpenError';
}

export class DirectoryLockedError extends DatabaseOpenError {
  override name = 'DirectoryLockedError';
  constructor(
    readonly dir: string,
    readonly lockFile: string,
    readonly owner: LockOwner,
  ) {
    super(
      `Cannot open the embedded database ${dir}: it is in use by ${describeOwner(owner)}. ` +
        'One process owns a PGlite directory (a second one would lose data). Instead: stop that process ' +
        `(kill ${owner.pid}, or Ctrl-C in its terminal) and run this again; or run every process on a PostgreSQL server ` +
        '(DATABASE_URL), which they can share; or use another PGLITE_DIR.' +
        (owner.url ? ` It serves ${owner.url}: its GraphQL API (and npm run train, npm run seed:demo, which work through it) reach the data meanwhile.` : ''),
    );
  }
}

export function describeOwner(owner: LockOwner): string {
  const where = owner.hostname === hostname() ? '' : ` on host ${owner.hostname}`;
  const port = owner.port !== undefined ? `, port ${owner.port}` : '';
  return `"${owner.command}" (pid ${owner.pid}${port}${where}, since ${owner.startedAt})`;
}

export const lockFileOf = (dir: string): string => `${path.resolve(dir)}.lock`;

/** Directories this process holds: a second open in the same process is refused like any other. */
const heldHere = new Map<string, string>();

function readOwner(file: string): LockOwner | null | 'unreadable' {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const owner = JSON.parse(raw) as LockOwner;
    return typeof owner.pid === 'number' && typeof owner.id === 'string' ? owner : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

interface ProcStat {
  /** R, S, D, Z (zombie: exited, not yet reaped by its parent), ... */
  state: string;
  /** Field 22, starttime: clock ticks after boot. */
  start: string;
}

/** A process's state and start time from /proc (Linux); null where /proc has no such process or no /proc. */
function procStat(pid: number): ProcStat | null | 'no-proc' {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return existsSync('/proc/self/stat') ? null : 'no-proc';
    return 'no-proc';
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields count from the last ')'.
  const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 is fields[19].
  const [state, start] = [fields[0], fields[19]];
  return state && start ? { state, start } : 'no-proc';
}

function processAlive(pid: number, processStart: string | undefined): boolean {
  const stat = procStat(pid);
  if (stat === null) return false;
  if (stat !== 'no-proc') {
    // A zombie has exited (killed with -9, say) and only waits for its parent to reap it, which a container's
    // PID 1 may never do: it holds nothing. A pid the kernel gave to a later process is not the owner.
    if (stat.state === 'Z' || stat.state === 'X') return false;
    return processStart === undefined || processStart === stat.start;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Is the recorded owner still running? Another host's process cannot be checked: assumed alive. */
function ownerAlive(file: string, owner: LockOwner): boolean {
  if (owner.hostname !== hostname()) return true;
  // A pid reused by this very process (a container restarted with the same pid) is not an owner.
  if (owner.pid === process.pid) return heldHere.get(file) === owner.id;
  return processAlive(owner.pid, owner.processStart);
}

/** Writes the owner to a private file, then links it into place: the lock appears complete or not at all. */
function writeComplete(file: string, owner: LockOwner, place: (tmp: string) => void): void {
  const tmp = `${file}.${process.pid}.${owner.id}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(owner, null, 2)}\n`, { mode: 0o644 });
  try {
    place(tmp);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // renamed into place
    }
  }
}

/**
 * Takes a stale lock over. Of several processes that found the same stale lock, only the one that creates its
 * marker (exclusively) may remove it, and only after reading it again: a live owner's lock is never removed.
 */
function removeStale(file: string, stale: LockOwner): boolean {
  const marker = `${file}.takeover-${stale.id}`;
  try {
    writeFileSync(marker, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false; // another process is taking it over
    throw err;
  }
  try {
    const again = readOwner(file);
    if (again && again !== 'unreadable' && again.id === stale.id) unlinkSync(file);
  } finally {
    unlinkSync(marker);
  }
  return true;
}

export interface DirectoryLock {
  readonly file: string;
  readonly owner: LockOwner;
  /** Records where the owning server listens, so other commands can name it and reach it. */
  announce(where: { port: number; url: string }): void;
  release(): void;
}

/** Takes the lock of a PGlite directory, or throws DirectoryLockedError naming the live owner. */
export function acquireDirectoryLock(dir: string, holder: LockHolder): DirectoryLock {
  const file = lockFileOf(dir);
  const self = procStat(process.pid);
  let owner: LockOwner = {
    ...holder,
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    id: randomUUID(),
    ...(self && self !== 'no-proc' ? { processStart: self.start } : {}),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      writeComplete(file, owner, (tmp) => linkSync(tmp, file));
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
        throw new DatabaseOpenError(
          `Cannot open the embedded database ${dir}: no permission to write its lock file ${file} (${code}). Run as the user that owns ${path.dirname(file)} (ls -ld ${path.dirname(file)}) or fix its permissions.`,
        );
      }
      if (code !== 'EEXIST') throw err;
    }
    const current = readOwner(file);
    if (current === null) continue; // released meanwhile
    if (current === 'unreadable') {
      throw new DatabaseOpenError(`${file} exists but cannot be read as a lock. If no ClimbIQ process uses ${dir}, delete ${file} and start again.`);
    }
    if (ownerAlive(file, current)) throw new DirectoryLockedError(dir, file, current);
    // Stale: its process is gone. Another process may be mid-takeover (its marker exists): wait a moment.
    if (attempt >= 50) {
      throw new DatabaseOpenError(
        `${file} was left by pid ${current.pid}, which is no longer running, and could not be taken over ` +
          `(a takeover was interrupted). If no ClimbIQ process uses ${dir}, delete ${file}* and start again.`,
      );
    }
    if (!removeStale(file, current)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  heldHere.set(file, owner.id);
  const releaseAtExit = () => release();
  process.once('exit', releaseAtExit);
  function release(): void {
    process.off('exit', releaseAtExit);
    if (heldHere.get(file) !== owner.id) return;
    heldHere.delete(file);
    const current = readOwner(file);
    if (current && current !== 'unreadable' && current.id === owner.id) unlinkSync(file);
  }
  return {
    file,
    get owner() {
      return owner;
    },
    announce(where) {
      owner = { ...owner, ...where };
      writeComplete(file, owner, (tmp) => renameSync(tmp, file));
    },
    release,
  };
}

/** The current owner of a directory's lock if its process is alive (what a CLI checks before opening it). */
export function liveOwner(dir: string): LockOwner | null {
  const file = lockFileOf(dir);
  const owner = readOwner(file);
  if (owner === null || owner === 'unreadable') return null;
  return ownerAlive(file, owner) ? owner : null;
}
