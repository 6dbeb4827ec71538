#!/usr/bin/python3
"""lazyfs.py: a small LazyFS-style FUSE file system that loses what was not fsynced.

Usage:  /usr/bin/python3 lazyfs.py BACKING MNT [--negative-control] [--capacity BYTES]
                                               [--state DIR] [--debug]
Needs Debian's fuse3 and python3-pyfuse3 (pyfuse3 + trio). Test harness only.

MODEL (a pessimistic reading of POSIX: ext4 with a strict reading, as in Jepsen's LazyFS)
------------------------------------------------------------------------------------------
Two states exist at any time:

  * the VIEW: what programs see through MNT.  Every write, truncate, create, unlink, rename,
    mkdir, rmdir, link, symlink and chmod takes effect in the view at once, exactly as the page
    cache and the dentry cache of a running kernel show it.
  * the DURABLE state: what the storage card holds.  It is materialised in BACKING at all
    times (BACKING is never ahead of, nor behind, the durable state).

The view reaches the durable state ONLY through these events:

  1. fsync(fd) / fdatasync(fd) on a regular file (FUSE "fsync"): the file's *contents and size*
     (and mode/owner) become durable: every name through which the file is durably reachable
     shows the new contents.  It does NOT make the file's *name* durable.
  2. fsync(fd) on a directory (FUSE "fsyncdir"): the directory's *entries* become durable: its
     durable list of names := its current list (names created, removed, renamed into or out of
     it, hard links, symlinks, subdirectories).  A name made durable for a file whose contents
     were never fsynced shows the contents last fsynced: EMPTY (0 bytes) for a file never
     fsynced, as ext4 with delayed allocation leaves it.  A subdirectory made durable shows its
     own durable entries (none, if it was never fsynced itself).
     A rename between two directories is durable on each side separately (fsyncing only the
     target directory durably shows the file under both names, like a hard link), except for
     directories, which have one durable parent: fsyncing the new parent moves it.
  3. a clean unmount (SIGTERM/SIGINT/SIGHUP, the "unmount" command, or an external
     `fusermount3 -u`) and the "sync" command: everything in the view becomes durable, as an
     orderly shutdown writes back the page cache.  Applies in every mode (see below).

A CUT (SIGUSR1, the "cut" command, or EOF on stdin, i.e. the controlling test died) stops
serving at once, drops every dirty byte and every name not yet made durable, and unmounts
(lazily: programs still holding files open get ENOTCONN from then on).  BACKING then holds
exactly the durable state: what the card holds after the power comes back (and fsck threw away
orphan inodes).  A SIGKILLed lazyfs is also a cut: BACKING is always the durable state; only the
state directory and a dead mount are left behind (the TypeScript helper clears both).

--negative-control: fsync and fsyncdir persist NOTHING (the harness's own sanity check: a test
  that relies on fsync must then fail after a cut).  "sync" and a clean unmount still write
  everything (they are an orderly shutdown, not fsync).
--capacity BYTES: the "disk" holds BYTES: a write that would make the total of all files
  (max of a file's current size and its durable size, summed over the files still named in the
  view or durably) exceed BYTES fails with ENOSPC (the whole write; nothing is written).
  Changeable at runtime ("capacity BYTES" or "capacity none"); statfs reports it.

What it does NOT emulate: torn or reordered writes inside one fsync interval (a cut keeps all
or nothing of a file's unsynced writes: nothing), partial sector writes, write errors (EIO),
timestamps' durability (BACKING files carry the time of their last fsync), xattrs/ACLs, device
nodes/FIFOs, file locks across two mounts (locks are kernel-local, which is right for one mount),
and the ordering some real file systems give for free (ext4 data=ordered persists the data of a
renamed-over file before the rename: here the rename is not durable at all without fsyncdir).
readdir offsets are list positions (a listing of a directory changed meanwhile may repeat or skip
an entry), and a directory rename that, synced on one side only, would put a directory durably
inside itself drops that subtree from BACKING instead of modelling it.

CONTROL CHANNEL
---------------
stdin, one command a line; each is answered by one stdout line ("ok <cmd> [json]" or
"err <message>"):  cut | unmount | sync | capacity <bytes>|none | stats | ping
stdout prints "ready" once mounted and "exit <cut|unmount>" just before the process exits (after
the unmount).  Signals: SIGUSR1 = cut, SIGTERM/SIGINT/SIGHUP = clean unmount.  When stdin is a
terminal it is not read (use the signals).  EOF on a pipe stdin = cut.

IMPLEMENTATION
--------------
The state directory (default BACKING + ".lazyfs-state", removed on exit) holds view/<id> (each
regular file's current contents: the "page cache", real files, so reads and writes are plain
pread/pwrite) and store/<id> (each file's durable contents).  Every durable name in BACKING is a
hard link to its store/<id>, so an fsync updates the contents seen under every durable name in
place, and a durable name is an os.link.  Names and metadata live in memory.  Dirty data is
tracked per 4 KiB page; fsync copies the dirty pages with copy_file_range.  Files found in
BACKING at mount are copied into view/ when first opened.  The state directory must be on the
same file system as BACKING (hard links).
"""

import argparse
import errno
import functools
import json
import logging
import os
import shutil
import signal
import stat
import sys
import time
import traceback

import pyfuse3
import trio

PAGE = 4096
TIMEOUT = 3600.0  # attribute/entry cache: every change goes through this mount's kernel
ROOT = pyfuse3.ROOT_INODE
REG, DIR, LNK = 'reg', 'dir', 'lnk'

log = logging.getLogger('lazyfs')


def now_ns():
    return time.time_ns()


class Node:
    __slots__ = ('id', 'kind', 'mode', 'uid', 'gid', 'atime', 'mtime', 'ctime', 'target',
                 'vlinks', 'lookups', 'opens', 'dlinks', 'size', 'dsize', 'dirty', 'min_trunc',
                 'vfd', 'sfd', 'has_view', 'has_store', 'charge', 'meta_dirty',
                 'ventries', 'dentries', 'vparent', 'dloc', 'subdirs')

    def __init__(self, nid, kind, mode, uid, gid):
        t = now_ns()
        self.id = nid
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.atime = self.mtime = self.ctime = t
        self.target = None
        self.vlinks = 0       # names in the view
        self.lookups = 0      # kernel references (FUSE lookup count)
        self.opens = 0
        self.dlinks = 0       # durable names
        self.size = 0         # view size
        self.dsize = 0        # durable size (valid when has_store)
        self.dirty = set()    # dirty page numbers since the last fsync
        self.min_trunc = None  # smallest size truncated to since the last fsync
        self.vfd = None
        self.sfd = None
        self.has_view = False   # view/<id> exists (else the view equals store/<id>)
        self.has_store = False  # store/<id> exists
        self.charge = 0
        self.meta_dirty = False
        self.ventries = None  # dirs: name -> id (view)
        self.dentries = None  # dirs: name -> id (durable)
        self.vparent = None   # dirs: parent id in the view
        self.dloc = None      # dirs: (parent id, name) in the durable tree
        self.subdirs = 0      # dirs: number of subdirectories in the view
        if kind == DIR:
            self.ventries = {}
            self.dentries = {}


def op(fn):
    """Map exceptions to errno replies: pyfuse3 lets any non-FUSEError kill its main loop."""
    @functools.wraps(fn)
    async def wrapper(self, *args):
        try:
            return fn(self, *args)
        except pyfuse3.FUSEError:
            raise
        except KeyError:
            raise pyfuse3.FUSEError(errno.ENOENT)
        except OSError as e:
            log.warning('%s%r: %s', fn.__name__, args[:2], e)
            raise pyfuse3.FUSEError(e.errno or errno.EIO)
        except Exception:
            log.error('%s%r failed:\n%s', fn.__name__, args[:2], traceback.format_exc())
            raise pyfuse3.FUSEError(errno.EIO)
    return wrapper


def copy_range(src, dst, off, count):
    while count > 0:
        try:
            n = os.copy_file_range(src, dst, count, off, off)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            n = 0
        if n <= 0:  # fall back to user-space copying
            data = os.pread(src, min(count, 1 << 20), off)
            if not data:
                return
            n = os.pwrite(dst, data, off)
        off += n
        count -= n


class LazyFS(pyfuse3.Operations):
    enable_writeback_cache = False
    supports_dot_lookup = True

    def __init__(self, backing, state, negative, capacity):
        super().__init__()
        self.backing = backing
        self.state = state
        self.view_dir = os.path.join(state, b'view')
        self.store_dir = os.path.join(state, b'store')
        self.negative = negative
        self.capacity = capacity
        self.frozen = False  # after a cut: the durable state never changes again
        self.used = 0
        self.nodes = {}
        self.next_id = ROOT + 1
        self.counts = {'write': 0, 'write_bytes': 0, 'read': 0, 'fsync': 0, 'fsyncdir': 0,
                       'enospc': 0}
        os.makedirs(self.view_dir)
        os.makedirs(self.store_dir)
        st = os.stat(backing)
        root = Node(ROOT, DIR, st.st_mode, st.st_uid, st.st_gid)
        root.vlinks = 1
        root.dlinks = 1
        root.vparent = ROOT
        self.nodes[ROOT] = root
        self._load(root, backing, {})

    # ---------- helpers ----------
    def _new(self, kind, mode, uid, gid):
        n = Node(self.next_id, kind, mode, uid, gid)
        self.next_id += 1
        self.nodes[n.id] = n
        return n

    def view_path(self, n):
        return os.path.join(self.view_dir, b'%d' % n.id)

    def store_path(self, n):
        return os.path.join(self.store_dir, b'%d' % n.id)

    def _load(self, d, path, seen):
        for e in os.scandir(path):
            st = e.stat(follow_symlinks=False)
            name = e.name
            if stat.S_ISDIR(st.st_mode):
                c = self._new(DIR, st.st_mode, st.st_uid, st.st_gid)
                c.vparent = d.id
                c.dloc = (d.id, name)
                d.subdirs += 1
                self._load(c, e.path, seen)
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                c = seen.get(key)
                if c is None:
                    c = self._new(REG, st.st_mode, st.st_uid, st.st_gid)
                    os.link(e.path, self.store_path(c))  # EXDEV: state dir on another fs
                    c.has_store = True
                    c.size = c.dsize = st.st_size
                    seen[key] = c
            elif stat.S_ISLNK(st.st_mode):
                c = self._new(LNK, st.st_mode, st.st_uid, st.st_gid)
                c.target = os.readlink(e.path)
            else:
                log.warning('ignoring %r: not a file, directory or symlink', e.path)
                continue
            c.mtime = c.ctime = st.st_mtime_ns
            d.ventries[name] = c.id
            d.dentries[name] = c.id
            c.vlinks += 1
            c.dlinks += 1
            self._recharge(c)

    def _view_alive(self, n):
        return n.vlinks > 0 or n.opens > 0 or n.lookups > 0 or n.id == ROOT

    def _recharge(self, n):
        if n.kind != REG:
            c = 0
        else:
            c = n.size if (n.vlinks > 0 or n.opens > 0) else 0
            if n.has_store and n.dsize > c:
                c = n.dsize
        self.used += c - n.charge
        n.charge = c

    def _ensure_view(self, n):
        if n.vfd is not None:
            return
        p = self.view_path(n)
        if not n.has_view:
            if n.has_store:
                shutil.copyfile(self.store_path(n), p)
            else:
                open(p, 'wb').close()
            n.has_view = True
        n.vfd = os.open(p, os.O_RDWR)

    def _ensure_store(self, n):
        if n.sfd is not None:
            return
        n.sfd = os.open(self.store_path(n), os.O_RDWR | os.O_CREAT, n.mode & 0o7777)
        if not n.has_store:
            n.has_store = True
            n.dsize = 0
            n.meta_dirty = True

    def _gc(self, n):
        alive = self._view_alive(n)
        if not alive and n.kind == REG and (n.has_view or n.vfd is not None):
            if n.vfd is not None:
                os.close(n.vfd)
                n.vfd = None
            if n.has_view:
                os.unlink(self.view_path(n))
                n.has_view = False
            n.dirty = set()
            n.min_trunc = None
        if not alive and n.dlinks <= 0:
            if n.sfd is not None:
                os.close(n.sfd)
                n.sfd = None
            if n.has_store:
                try:
                    os.unlink(self.store_path(n))
                except FileNotFoundError:
                    pass
                n.has_store = False
            self.nodes.pop(n.id, None)
            if n.kind == DIR:
                for cid in n.dentries.values():
                    c = self.nodes.get(cid)
                    if c is not None:
                        c.dlinks -= 1
                        self._gc(c)
                n.dentries = {}
        self._recharge(n)

    def _attrs(self, n):
        e = pyfuse3.EntryAttributes()
        e.st_ino = n.id
        e.generation = 0
        e.entry_timeout = TIMEOUT
        e.attr_timeout = TIMEOUT
        e.st_mode = n.mode
        if n.kind == DIR:
            e.st_nlink = 2 + n.subdirs
            e.st_size = 4096
        elif n.kind == LNK:
            e.st_nlink = n.vlinks
            e.st_size = len(n.target)
        else:
            e.st_nlink = n.vlinks
            e.st_size = n.size
        e.st_uid = n.uid
        e.st_gid = n.gid
        e.st_rdev = 0
        e.st_blksize = PAGE
        e.st_blocks = (e.st_size + 511) // 512
        e.st_atime_ns = n.atime
        e.st_mtime_ns = n.mtime
        e.st_ctime_ns = n.ctime
        return e

    def _dir(self, inode):
        n = self.nodes[inode]
        if n.kind != DIR:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        return n

    def _truncate(self, n, size):
        self._ensure_view(n)
        os.ftruncate(n.vfd, size)
        if size < n.size:
            if n.min_trunc is None or size < n.min_trunc:
                n.min_trunc = size
            limit = (size + PAGE - 1) // PAGE
            if n.dirty:
                n.dirty = {p for p in n.dirty if p < limit}
        n.size = size
        n.mtime = n.ctime = now_ns()
        self._recharge(n)

    # ---------- durability ----------
    def persist(self, n):
        """fsync: the file's current contents become its durable contents."""
        if n.kind != REG or not n.has_view:
            return
        self._ensure_store(n)
        sfd, vfd, size = n.sfd, n.vfd, n.size
        if n.min_trunc is not None and n.min_trunc < n.dsize:
            os.ftruncate(sfd, n.min_trunc)
            n.dsize = n.min_trunc
        if n.dsize != size:
            os.ftruncate(sfd, size)
        if n.dirty:
            pages = sorted(n.dirty)
            start = prev = pages[0]
            for p in pages[1:] + [None]:
                if p is not None and p == prev + 1:
                    prev = p
                    continue
                a = start * PAGE
                b = min((prev + 1) * PAGE, size)
                if b > a:
                    copy_range(vfd, sfd, a, b - a)
                if p is not None:
                    start = prev = p
        if n.meta_dirty:
            os.fchmod(sfd, n.mode & 0o7777)
            if os.geteuid() == 0:
                os.fchown(sfd, n.uid, n.gid)
            n.meta_dirty = False
        n.dirty = set()
        n.min_trunc = None
        n.dsize = size
        self._recharge(n)

    def dpath(self, d):
        """Where a durable directory is in BACKING, or None when it is not durably reachable."""
        parts = []
        cur = d
        for _ in range(10000):
            if cur.id == ROOT:
                p = self.backing
                for name in reversed(parts):
                    p = p + b'/' + name
                return p
            if cur.dloc is None:
                return None
            pid, name = cur.dloc
            parts.append(name)
            cur = self.nodes.get(pid)
            if cur is None:
                return None
        return None  # a cycle

    def _remove_path(self, p):
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(p)
        else:
            os.unlink(p)

    def _materialize(self, p, n, depth=0):
        self._remove_path(p)
        if n.kind == REG:
            self._ensure_store(n)
            os.link(self.store_path(n), p)
        elif n.kind == LNK:
            os.symlink(n.target, p)
        elif depth < 1000:
            os.mkdir(p)
            os.chmod(p, n.mode & 0o7777)
            for name, cid in n.dentries.items():
                c = self.nodes.get(cid)
                if c is not None:
                    self._materialize(p + b'/' + name, c, depth + 1)

    def sync_dir(self, d):
        """fsyncdir: the directory's current entries become its durable entries."""
        base = self.dpath(d)
        old, new = d.dentries, d.ventries
        dropped = []
        for name, oid in list(old.items()):
            if new.get(name) != oid:
                del old[name]
                o = self.nodes.get(oid)
                if base is not None:
                    self._remove_path(base + b'/' + name)
                if o is not None:
                    o.dlinks -= 1
                    if o.kind == DIR and o.dloc == (d.id, name):
                        o.dloc = None
                    dropped.append(o)
        for name, nid in list(new.items()):
            if old.get(name) == nid:
                continue
            o = self.nodes[nid]
            if o.kind == DIR and o.dloc is not None and o.dloc != (d.id, name):
                # a directory has one durable parent: take it from the old one
                pid, pname = o.dloc
                p = self.nodes.get(pid)
                if p is not None and p.dentries.get(pname) == o.id:
                    del p.dentries[pname]
                    o.dlinks -= 1
                    pp = self.dpath(p)
                    if pp is not None:
                        self._remove_path(pp + b'/' + pname)
            old[name] = nid
            o.dlinks += 1
            if o.kind == DIR:
                o.dloc = (d.id, name)
            if base is not None:
                self._materialize(base + b'/' + name, o)
        for o in dropped:
            self._gc(o)

    def flush_all(self):
        """Orderly shutdown / sync: everything in the view becomes durable."""
        for n in list(self.nodes.values()):
            if n.kind == REG and n.vlinks > 0:
                self.persist(n)
        todo = [self.nodes[ROOT]]
        while todo:
            d = todo.pop(0)
            self.sync_dir(d)
            for cid in d.ventries.values():
                c = self.nodes.get(cid)
                if c is not None and c.kind == DIR:
                    todo.append(c)

    def stats(self):
        dirty_pages = sum(len(n.dirty) for n in self.nodes.values() if n.kind == REG)
        return dict(self.counts, used=self.used, capacity=self.capacity, nodes=len(self.nodes),
                    dirty_bytes=dirty_pages * PAGE, negative_control=self.negative)

    # ---------- FUSE operations ----------
    @op
    def lookup(self, parent, name, ctx=None):
        p = self._dir(parent)
        if name == b'.':
            cid = p.id
        elif name == b'..':
            cid = p.vparent
        else:
            cid = p.ventries.get(name)
            if cid is None:
                e = pyfuse3.EntryAttributes()
                e.st_ino = 0
                e.entry_timeout = TIMEOUT
                return e
        c = self.nodes[cid]
        c.lookups += 1
        return self._attrs(c)

    async def forget(self, inode_list):
        for inode, nlookup in inode_list:
            try:
                n = self.nodes.get(inode)
                if n is not None:
                    n.lookups -= nlookup
                    self._gc(n)
            except Exception:
                log.error('forget(%d): %s', inode, traceback.format_exc())

    @op
    def getattr(self, inode, ctx=None):
        return self._attrs(self.nodes[inode])

    @op
    def setattr(self, inode, attr, fields, fh, ctx):
        n = self.nodes[inode]
        t = now_ns()
        if fields.update_size:
            if n.kind != REG:
                raise pyfuse3.FUSEError(errno.EINVAL)
            self._truncate(n, attr.st_size)
        if fields.update_mode:
            n.mode = stat.S_IFMT(n.mode) | stat.S_IMODE(attr.st_mode)
            n.meta_dirty = True
        if fields.update_uid:
            n.uid = attr.st_uid
            n.meta_dirty = True
        if fields.update_gid:
            n.gid = attr.st_gid
            n.meta_dirty = True
        if fields.update_atime:
            n.atime = attr.st_atime_ns
        if fields.update_mtime:
            n.mtime = attr.st_mtime_ns
        n.ctime = attr.st_ctime_ns if fields.update_ctime else t
        return self._attrs(n)

    @op
    def readlink(self, inode, ctx):
        n = self.nodes[inode]
        if n.kind != LNK:
            raise pyfuse3.FUSEError(errno.EINVAL)
        return n.target

    def _vacant(self, parent, name):
        """The directory `parent`, checked not to hold `name` yet (before a node is allocated for it)."""
        p = self._dir(parent)
        if name in p.ventries:
            raise pyfuse3.FUSEError(errno.EEXIST)
        return p

    def _add(self, parent, name, n):
        p = self._vacant(parent, name)
        p.ventries[name] = n.id
        n.vlinks += 1
        n.lookups += 1
        p.mtime = p.ctime = now_ns()
        if n.kind == DIR:
            n.vparent = p.id
            p.subdirs += 1
        self._recharge(n)
        return n

    @op
    def mknod(self, parent, name, mode, rdev, ctx):
        if not stat.S_ISREG(mode):
            raise pyfuse3.FUSEError(errno.EPERM)  # no devices, FIFOs or sockets
        self._dir(parent)
        n = self._new(REG, mode, ctx.uid, ctx.gid)
        self._ensure_view(n)
        return self._attrs(self._add(parent, name, n))

    @op
    def mkdir(self, parent, name, mode, ctx):
        self._vacant(parent, name)
        n = self._new(DIR, mode, ctx.uid, ctx.gid)
        return self._attrs(self._add(parent, name, n))

    @op
    def symlink(self, parent, name, target, ctx):
        self._vacant(parent, name)
        n = self._new(LNK, stat.S_IFLNK | 0o777, ctx.uid, ctx.gid)
        n.target = target
        return self._attrs(self._add(parent, name, n))

    @op
    def link(self, inode, new_parent, new_name, ctx):
        n = self.nodes[inode]
        if n.kind == DIR:
            raise pyfuse3.FUSEError(errno.EPERM)
        self._add(new_parent, new_name, n)
        n.ctime = now_ns()
        return self._attrs(n)

    @op
    def unlink(self, parent, name, ctx):
        p = self._dir(parent)
        cid = p.ventries.get(name)
        if cid is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        n = self.nodes[cid]
        if n.kind == DIR:
            raise pyfuse3.FUSEError(errno.EISDIR)
        del p.ventries[name]
        n.vlinks -= 1
        p.mtime = p.ctime = n.ctime = now_ns()
        self._gc(n)

    @op
    def rmdir(self, parent, name, ctx):
        p = self._dir(parent)
        cid = p.ventries.get(name)
        if cid is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        n = self.nodes[cid]
        if n.kind != DIR:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        if n.ventries:
            raise pyfuse3.FUSEError(errno.ENOTEMPTY)
        del p.ventries[name]
        p.subdirs -= 1
        n.vlinks -= 1
        p.mtime = p.ctime = now_ns()
        self._gc(n)

    @op
    def rename(self, old_parent, old_name, new_parent, new_name, flags, ctx):
        po, pn = self._dir(old_parent), self._dir(new_parent)
        mid = po.ventries.get(old_name)
        if mid is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        m = self.nodes[mid]
        tid = pn.ventries.get(new_name)
        t = self.nodes[tid] if tid is not None else None
        stamp = now_ns()
        po.mtime = po.ctime = pn.mtime = pn.ctime = m.ctime = stamp
        if flags & pyfuse3.RENAME_EXCHANGE:
            if t is None:
                raise pyfuse3.FUSEError(errno.ENOENT)
            po.ventries[old_name], pn.ventries[new_name] = tid, mid
            if m.kind == DIR:
                m.vparent = pn.id
                po.subdirs -= 1
                pn.subdirs += 1
            if t.kind == DIR:
                t.vparent = po.id
                pn.subdirs -= 1
                po.subdirs += 1
            return
        if t is not None:
            if flags & pyfuse3.RENAME_NOREPLACE:
                raise pyfuse3.FUSEError(errno.EEXIST)
            if tid == mid:
                return
            if t.kind == DIR:
                if m.kind != DIR:
                    raise pyfuse3.FUSEError(errno.EISDIR)
                if t.ventries:
                    raise pyfuse3.FUSEError(errno.ENOTEMPTY)
                pn.subdirs -= 1
            elif m.kind == DIR:
                raise pyfuse3.FUSEError(errno.ENOTDIR)
            del pn.ventries[new_name]
            t.vlinks -= 1
        del po.ventries[old_name]
        pn.ventries[new_name] = mid
        if m.kind == DIR:
            m.vparent = pn.id
            po.subdirs -= 1
            pn.subdirs += 1
        if t is not None:
            self._gc(t)

    @op
    def open(self, inode, flags, ctx):
        n = self.nodes[inode]
        if n.kind == DIR:
            raise pyfuse3.FUSEError(errno.EISDIR)
        if n.kind != REG:
            raise pyfuse3.FUSEError(errno.ELOOP)
        self._ensure_view(n)
        if flags & os.O_TRUNC and n.size:
            self._truncate(n, 0)
        n.opens += 1
        self._recharge(n)
        return pyfuse3.FileInfo(fh=inode, keep_cache=True)

    @op
    def create(self, parent, name, mode, flags, ctx):
        self._vacant(parent, name)
        n = self._new(REG, stat.S_IFREG | stat.S_IMODE(mode), ctx.uid, ctx.gid)
        self._ensure_view(n)
        self._add(parent, name, n)
        n.opens += 1
        return pyfuse3.FileInfo(fh=n.id, keep_cache=True), self._attrs(n)

    @op
    def read(self, fh, off, size):
        n = self.nodes[fh]
        self.counts['read'] += 1
        return os.pread(n.vfd, size, off)

    @op
    def write(self, fh, off, buf):
        n = self.nodes[fh]
        length = len(buf)
        end = off + length
        if end > n.size and self.capacity is not None:
            grow = max(end, n.dsize if n.has_store else 0) - n.charge
            if grow > 0 and self.used + grow > self.capacity:
                self.counts['enospc'] += 1
                raise pyfuse3.FUSEError(errno.ENOSPC)
        os.pwrite(n.vfd, buf, off)
        if end > n.size:
            n.size = end
            self._recharge(n)
        first, last = off // PAGE, (end - 1) // PAGE
        if first == last:
            n.dirty.add(first)
        else:
            n.dirty.update(range(first, last + 1))
        n.mtime = n.ctime = now_ns()
        self.counts['write'] += 1
        self.counts['write_bytes'] += length
        return length

    @op
    def flush(self, fh):
        return None

    @op
    def release(self, fh):
        n = self.nodes[fh]
        n.opens -= 1
        self._gc(n)

    @op
    def fsync(self, fh, datasync):
        self.counts['fsync'] += 1
        if self.frozen or self.negative:
            return
        self.persist(self.nodes[fh])

    @op
    def opendir(self, inode, ctx):
        self._dir(inode)
        return inode

    @op
    def readdir(self, fh, start_id, token):
        d = self._dir(fh)
        items = list(d.ventries.items())
        for i in range(start_id, len(items)):
            name, cid = items[i]
            c = self.nodes[cid]
            if not pyfuse3.readdir_reply(token, name, self._attrs(c), i + 1):
                break
            c.lookups += 1

    @op
    def releasedir(self, fh):
        return None

    @op
    def fsyncdir(self, fh, datasync):
        self.counts['fsyncdir'] += 1
        if self.frozen or self.negative:
            return
        self.sync_dir(self._dir(fh))

    @op
    def statfs(self, ctx):
        s = pyfuse3.StatvfsData()
        if self.capacity is not None:
            s.f_bsize = s.f_frsize = PAGE
            s.f_blocks = self.capacity // PAGE
            s.f_bfree = s.f_bavail = max(0, self.capacity - self.used) // PAGE
        else:
            v = os.statvfs(self.backing)
            s.f_bsize, s.f_frsize = v.f_bsize, v.f_frsize
            s.f_blocks, s.f_bfree, s.f_bavail = v.f_blocks, v.f_bfree, v.f_bavail
        s.f_files = 1 << 20
        s.f_ffree = s.f_favail = max(0, (1 << 20) - len(self.nodes))
        s.f_namemax = 255
        return s


class Runner:
    def __init__(self, fs, mnt):
        self.fs = fs
        self.mnt = mnt
        self.stopping = None
        self.nursery = None

    def say(self, line):
        sys.stdout.write(line + '\n')
        sys.stdout.flush()

    def stop(self, mode, why):
        if self.stopping is not None:
            return
        self.stopping = mode
        log.info('%s (%s)', mode, why)
        if mode == 'cut':
            self.fs.frozen = True  # from now on nothing reaches BACKING
            pyfuse3.terminate()
        else:
            self.nursery.start_soon(self._unmount_clean)

    async def _unmount_clean(self):
        # The kernel writes back its dirty pages and releases the files before it unmounts,
        # and we keep serving meanwhile; pyfuse3.main() then returns by itself.
        r = await trio.run_process(['fusermount3', '-u', self.mnt], check=False,
                                   capture_stdout=True, capture_stderr=True)
        if r.returncode != 0:
            log.warning('fusermount3 -u: %s; unmounting lazily',
                        r.stderr.decode(errors='replace').strip())
            pyfuse3.terminate()

    async def command(self, line):
        words = line.split()
        if not words:
            return
        cmd = words[0]
        if cmd in ('cut', 'unmount'):
            self.stop(cmd, 'command')
        elif cmd == 'sync':
            if not self.fs.frozen:
                self.fs.flush_all()
            self.say('ok sync')
        elif cmd == 'capacity' and len(words) == 2:
            try:
                self.fs.capacity = None if words[1] == 'none' else int(words[1])
                self.say('ok capacity')
            except ValueError:
                self.say('err capacity: not a number: ' + words[1])
        elif cmd == 'stats':
            self.say('ok stats ' + json.dumps(self.fs.stats()))
        elif cmd == 'ping':
            self.say('ok ping')
        else:
            self.say('err unknown command: ' + line)

    async def read_stdin(self):
        if os.isatty(0):
            return
        stream = trio.lowlevel.FdStream(os.dup(0))
        buf = b''
        while True:
            data = await stream.receive_some(4096)
            if not data:
                self.stop('cut', 'stdin closed: the controlling process is gone')
                return
            buf += data
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                await self.command(line.decode(errors='replace').strip())

    async def signals(self):
        with trio.open_signal_receiver(signal.SIGUSR1, signal.SIGTERM, signal.SIGINT,
                                       signal.SIGHUP) as sigs:
            async for s in sigs:
                self.stop('cut' if s == signal.SIGUSR1 else 'unmount', signal.Signals(s).name)

    async def run(self):
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            nursery.start_soon(self.signals)
            nursery.start_soon(self.read_stdin)
            self.say('ready')
            await pyfuse3.main()
            nursery.cancel_scope.cancel()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('backing')
    ap.add_argument('mnt')
    ap.add_argument('--negative-control', action='store_true')
    ap.add_argument('--capacity', type=int, default=None)
    ap.add_argument('--state', default=None)
    ap.add_argument('--debug', action='store_true')
    a = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if a.debug else logging.INFO,
                        format='lazyfs: %(message)s', stream=sys.stderr)
    os.umask(0)
    backing = os.fsencode(os.path.abspath(a.backing))
    state = os.fsencode(os.path.abspath(a.state)) if a.state else backing.rstrip(b'/') + b'.lazyfs-state'
    if not os.path.isdir(backing):
        sys.exit('lazyfs: %s is not a directory' % a.backing)
    shutil.rmtree(state, ignore_errors=True)  # a leftover of a killed run: BACKING is authoritative
    try:
        fs = LazyFS(backing, state, a.negative_control, a.capacity)
    except OSError as e:
        shutil.rmtree(state, ignore_errors=True)
        if e.errno == errno.EXDEV:
            sys.exit('lazyfs: the state directory %s must be on the file system of BACKING' % state.decode())
        raise
    opts = set(pyfuse3.default_options)
    opts.add('fsname=lazyfs')
    opts.add('subtype=lazyfs')
    if a.debug:
        opts.add('debug')
    runner = Runner(fs, os.path.abspath(a.mnt))
    try:
        pyfuse3.init(fs, os.path.abspath(a.mnt), opts)
    except RuntimeError as e:
        shutil.rmtree(state, ignore_errors=True)
        sys.exit('lazyfs: cannot mount %s (%s): needs /dev/fuse and the right to mount (root, '
                 'or a setuid fusermount3; in a container --device /dev/fuse --cap-add SYS_ADMIN)'
                 % (a.mnt, e))
    served = False
    try:
        trio.run(runner.run)
        served = True
    finally:
        if served and runner.stopping != 'cut' and not fs.frozen:
            fs.flush_all()  # clean or external unmount: an orderly shutdown writes everything
        fs.frozen = True
        pyfuse3.close(unmount=True)
        shutil.rmtree(state, ignore_errors=True)
    runner.say('exit ' + (runner.stopping or 'unmount'))


if __name__ == '__main__':
    main()
