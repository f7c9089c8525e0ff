"""hwtotp's Keystone token cache, shared with ``hwtotp keystone login/logout`` and ``exec --token-cache``.

Same file, key and rules as host/src/integrations/keystone/token-cache.ts: ``{"v":1,"tokens":{KEY:ENTRY}}``,
mode 0600, written whole beside itself and renamed into place, one ``.lock`` file (holding the pid) around
a login so that concurrent commands spend one code. This plugin adds ``authState`` to the entries it writes:
keystoneauth's state (the token body with its catalog), so a cached token needs no request at all.
"""

import errno
import hashlib
import json
import os
import stat
import sys
import time

LOCK_WAIT_S = 60.0
LOCK_STALE_S = 120.0
LOCK_POLL_S = 0.05


def cache_file(env=None):
    """$HWTOTP_TOKEN_CACHE, else $XDG_RUNTIME_DIR/hwtotp/keystone-tokens.json, else ~/.cache/hwtotp/…"""
    env = os.environ if env is None else env
    if env.get('HWTOTP_TOKEN_CACHE'):
        return env['HWTOTP_TOKEN_CACHE']
    if env.get('XDG_RUNTIME_DIR'):
        return os.path.join(env['XDG_RUNTIME_DIR'], 'hwtotp', 'keystone-tokens.json')
    base = env.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'hwtotp', 'keystone-tokens.json')


def cache_key(auth_url, user_id=None, username=None, user_domain_id=None, user_domain_name=None,
              project_id=None, project_name=None, project_domain_id=None, project_domain_name=None):
    """token-cache.ts cacheKey(): which login a token stands for (URL, user, scope; nothing secret)."""
    parts = [auth_url.rstrip('/'), user_id, username, user_domain_id, user_domain_name,
             project_id, project_name, project_domain_id, project_domain_name]
    text = '\n'.join('' if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]


def refresh_margin_ms(entry):
    """token-cache.ts refreshMargin(): 5 min, at most a quarter of the lifetime, at least 30 s."""
    life = entry['expiresAt'] - entry['issuedAt']
    return max(30000.0, min(300000.0, life / 4.0))


def now_ms():
    return time.time() * 1000.0


def usable(entry, min_left_ms=0.0, now=None):
    try:
        left = entry['expiresAt'] - (now_ms() if now is None else now)
        return left > max(refresh_margin_ms(entry), min_left_ms)
    except (KeyError, TypeError):
        return False


def _warn(s):
    try:
        sys.stderr.write('hwtotp: ' + s + '\n')
    except Exception:
        pass


class TokenCache(object):

    def __init__(self, path):
        self.path = path

    def read(self):
        """The cache; a file that others could read or that is not ours is dropped (as token-cache.ts)."""
        try:
            st = os.lstat(self.path)
        except OSError:
            return {'v': 1, 'tokens': {}}
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            _warn('Token cache %s is not a private file of yours (mode %o); its tokens are discarded.'
                  % (self.path, st.st_mode & 0o777))
            try:
                os.unlink(self.path)
            except OSError:
                pass
            return {'v': 1, 'tokens': {}}
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, 'r') as f:
                o = json.load(f)
            if isinstance(o, dict) and o.get('v') == 1 and isinstance(o.get('tokens'), dict):
                return o
        except (OSError, ValueError):
            pass  # a torn or foreign file: start over
        return {'v': 1, 'tokens': {}}

    def get(self, key):
        t = self.read()['tokens'].get(key)
        return t if isinstance(t, dict) else None

    def _mkdir(self):
        d = os.path.dirname(self.path)
        if d and not os.path.isdir(d):
            os.makedirs(d, mode=0o700, exist_ok=True)

    def write(self, cache):
        now = now_ms()
        tokens = cache['tokens']
        for k in list(tokens):
            t = tokens[k]
            if not isinstance(t, dict) or not (isinstance(t.get('expiresAt'), (int, float)) and t['expiresAt'] > now):
                del tokens[k]
        self._mkdir()
        tmp = '%s.%d.tmp' % (self.path, os.getpid())
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            fd = os.open(tmp, flags, 0o600)
        except OSError as e:
            if e.errno != errno.EEXIST:
                raise
            os.unlink(tmp)  # our own pid's leftover (or a planted name): never written through
            fd = os.open(tmp, flags, 0o600)
        try:
            with os.fdopen(fd, 'w') as f:
                json.dump(cache, f, separators=(',', ':'))
            os.rename(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def put(self, key, entry):
        c = self.read()
        c['tokens'][key] = entry
        self.write(c)

    def drop(self, key, token=None):
        """Removes the entry (only if it still holds `token`, when given)."""
        c = self.read()
        t = c['tokens'].get(key)
        if t is not None and (token is None or (isinstance(t, dict) and t.get('token') == token)):
            del c['tokens'][key]
            self.write(c)

    def lock(self):
        return _Lock(self.path + '.lock', self._mkdir)


class _Lock(object):
    """withLockFile() of host/src/private-file.ts: O_EXCL, pid inside, broken when stale or its holder died."""

    def __init__(self, path, mkdir):
        self.path = path
        self.mkdir = mkdir

    def __enter__(self):
        self.mkdir()
        end = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                try:
                    os.write(fd, str(os.getpid()).encode())
                finally:
                    os.close(fd)
                return self
            except OSError as e:
                if e.errno != errno.EEXIST:
                    raise
            if self._stale():
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
                continue
            if time.monotonic() > end:
                raise OSError(errno.EBUSY, 'Token cache is locked by another process (%s).' % self.path)
            time.sleep(LOCK_POLL_S)

    def _stale(self):
        try:
            age = time.time() - os.lstat(self.path).st_mtime
            with open(self.path) as f:
                text = f.read()
            if age > LOCK_STALE_S:
                return True
            try:
                pid = int(text)
            except ValueError:
                return age > 5
            if pid <= 0:
                return age > 5
            os.kill(pid, 0)
            return False
        except OSError as e:
            return e.errno in (errno.ESRCH, errno.ENOENT)

    def __exit__(self, *exc):
        try:
            os.unlink(self.path)
        except OSError:
            pass
        return False
