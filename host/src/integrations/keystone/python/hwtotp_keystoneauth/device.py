"""A code from the token: through the hwtotp daemon's socket, else ``hwtotp code --json``.

The daemon speaks the device protocol itself (protocol/index.ts): one JSON frame per line,
``{"v":1,"id":N,"op":"code","a":{"name":S}}`` -> ``{"v":1,"id":N,"ok":true,"d":{"codes":[...]}}`` or
``{"ok":false,"e":CODE,"m":SENTENCE}``, and press notices ``{"v":1,"id":N,"press":{"what","long","ms"}}``
before the reply of a request that waits for the button. Socket rules as host/src/daemon-client.ts.
"""

import json
import os
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import time

PROTOCOL_VERSION = 1
# A request the daemon answers at once still waits for its queue and, after a reconnect, the device.
REPLY_TIMEOUT_S = 10.0
# How long after a press notice's own wait (its "ms") the reply may take.
PRESS_SLACK_S = 5.0
# A code with less left than this may reach Keystone in the next step: take the next one.
MIN_LEFT_S = 1.0
MAX_REPLY_LINE = 8192

# What a device (or daemon) error code means for the user, beyond its own sentence.
HINTS = {
    'E_LOCKED': 'the token is locked: run `hwtotp unlock` first',
    'E_PIN': 'wrong PIN',
    'E_TOUCH': 'the button was not pressed in time',
    'E_BUSY': 'the token waits for a press for another request',
    'E_NOSLOT': 'no such slot on the token (auth.hwtotp_slot)',
    'E_CLOCK': 'the token\'s clock is not set: run `hwtotp time sync`',
    'E_NODEVICE': 'no token is connected',
}


class TokenError(Exception):
    """The token (or the daemon in front of it) gave no code. ``code`` is the stable error code."""

    def __init__(self, message, code='E_HOST'):
        super(TokenError, self).__init__(message)
        self.code = code


class NoDaemon(Exception):
    pass


def _tmpdir(env):
    # Node's os.tmpdir(), which host/src/daemon-client.ts uses.
    d = env.get('TMPDIR') or env.get('TMP') or env.get('TEMP') or '/tmp'
    return d.rstrip('/') if len(d) > 1 else d


def _implicit_socket_path(env):
    if env.get('XDG_RUNTIME_DIR'):
        return os.path.join(env['XDG_RUNTIME_DIR'], 'hwtotp.sock')
    return os.path.join(_tmpdir(env), 'hwtotp-%d' % os.getuid(), 'hwtotp.sock')


def default_socket_path(env=None):
    env = os.environ if env is None else env
    return env.get('HWTOTP_SOCKET') or _implicit_socket_path(env)


def unsafe_path(p, kind, owner=None):
    """Why a socket (or its folder) must not be trusted, or None (daemon-client.ts unsafePath)."""
    try:
        st = os.lstat(p)
    except OSError:
        return None
    uid = os.getuid()
    if kind == 'socket' and not stat.S_ISSOCK(st.st_mode):
        return p + ' is not a socket'
    if kind == 'folder' and not stat.S_ISDIR(st.st_mode):
        return p + ' is not a folder'
    if st.st_uid != uid and st.st_uid != 0 and st.st_uid != owner:
        return '%s belongs to another user (uid %d)' % (p, st.st_uid)
    shared = owner is not None and st.st_uid == owner and owner != uid
    if kind == 'folder' and st.st_mode & 0o022 and not (st.st_mode & 0o1000 and not shared):
        return p + ' can be written by others'
    if kind == 'socket' and st.st_mode & (0o007 if shared else 0o077):
        return '%s is open to others (mode %o)' % (p, st.st_mode & 0o777)
    return None


def trusted_socket(p, env=None):
    """Why the daemon socket at p must not be used, or None (daemon-client.ts trustedSocket): ours (or
    root's) in a folder nobody else can write; another user's (a daemon serving us through its socket group)
    only at a path that was named (hwtotp_socket, $HWTOTP_SOCKET), in that user's folder nobody else can
    write, with the socket open to no one beyond its group."""
    env = os.environ if env is None else env
    try:
        owner = os.lstat(p).st_uid
    except OSError:
        owner = None
    named = os.path.abspath(p) != os.path.abspath(_implicit_socket_path(env))
    other = owner if named else None
    return unsafe_path(p, 'socket', other) or unsafe_path(os.path.dirname(p), 'folder', other)


def _say(s):
    try:
        sys.stderr.write('hwtotp: ' + s + '\n')
        sys.stderr.flush()
    except Exception:
        pass


def _press_sentence(p):
    what = p.get('what', 'a request')
    if p.get('long'):
        return 'hold the token\'s button for 2 s to confirm: ' + what
    return 'press the token\'s button to confirm: ' + what


class DaemonClient(object):
    """One connection to the daemon; requests one at a time."""

    def __init__(self, path):
        bad = trusted_socket(path)
        if bad:
            _say('not using the daemon socket: ' + bad + '.')
            raise NoDaemon(bad)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(REPLY_TIMEOUT_S)
        try:
            s.connect(path)
        except (OSError, socket.timeout) as e:
            s.close()
            raise NoDaemon(str(e))
        self.sock = s
        self.buf = b''
        self.next_id = 1
        self.stray_error = None
        # The introduction the CLI sends (daemon-client.ts introLine); a daemon that no longer reads it
        # answers it as a frame with id null, which is not one of ours.
        intro = {'client': 'hwtotp', 'pid': os.getpid(), 'uid': os.getuid()}
        self._send(json.dumps(intro, separators=(',', ':')))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _send(self, line):
        try:
            self.sock.sendall(line.encode('utf-8') + b'\n')
        except OSError as e:
            raise TokenError('The hwtotp daemon closed the connection (%s).' % e, 'E_DISCONNECTED')

    def _line(self, deadline):
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TokenError('The hwtotp daemon did not answer in time.', 'E_TIMEOUT')
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError as e:
                raise TokenError('The hwtotp daemon closed the connection (%s).' % e, 'E_DISCONNECTED')
            if not chunk:
                if self.stray_error is not None:
                    raise self.stray_error
                raise TokenError('The hwtotp daemon closed the connection.', 'E_DISCONNECTED')
            self.buf += chunk
            if len(self.buf) > MAX_REPLY_LINE * 4 and b'\n' not in self.buf:
                raise TokenError('The hwtotp daemon sent an overlong line.', 'E_BADREPLY')
        line, _, self.buf = self.buf.partition(b'\n')
        return line.decode('utf-8', 'replace').strip()

    def request(self, op, args):
        rid = self.next_id
        self.next_id += 1
        frame = {'v': PROTOCOL_VERSION, 'id': rid, 'op': op, 'a': args}
        self._send(json.dumps(frame, separators=(',', ':')))
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while True:
            line = self._line(deadline)
            if not line:
                continue
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if not isinstance(o, dict):
                continue
            if o.get('id') is None and o.get('ok') is False:
                # Not an answer to us (e.g. to the introduction); kept in case the daemon then hangs up.
                self.stray_error = _error_of(o)
                continue
            if o.get('id') != rid:
                continue
            if isinstance(o.get('press'), dict):
                p = o['press']
                _say(_press_sentence(p))
                ms = p.get('ms') if isinstance(p.get('ms'), (int, float)) else 15000
                deadline = time.monotonic() + ms / 1000.0 + PRESS_SLACK_S
                continue
            if o.get('ok') is True:
                return o.get('d') if isinstance(o.get('d'), dict) else {}
            if o.get('ok') is False:
                raise _error_of(o)


def _error_of(o):
    code = o.get('e') if isinstance(o.get('e'), str) else 'E_INTERNAL'
    msg = o.get('m') if isinstance(o.get('m'), str) and o.get('m') else 'refused'
    hint = HINTS.get(code)
    text = msg.rstrip('.') + '.'
    if hint and hint.lower() not in msg.lower():
        text = '%s (%s).' % (msg.rstrip('.'), hint)
    return TokenError('The token gave no code: %s [%s]' % (text, code), code)


def _pick(codes, slot):
    if slot is not None:
        for c in codes:
            if c.get('name') == slot:
                return c
        raise TokenError('The token has no slot named %r [E_NOSLOT].' % slot, 'E_NOSLOT')
    if not codes:
        raise TokenError('The token has no slots; enrol one with `hwtotp keystone enroll` [E_NOSLOT].', 'E_NOSLOT')
    if len(codes) > 1:
        names = ', '.join(str(c.get('name')) for c in codes)
        raise TokenError('The token has %d slots; name one with auth.hwtotp_slot in clouds.yaml (%s).'
                         % (len(codes), names), 'E_USAGE')
    return codes[0]


def _valid(c):
    code = c.get('code')
    if not isinstance(code, str) or len(code) != 6 or not code.isdigit():
        raise TokenError('The token gave no 6-digit code for slot %r (Keystone takes only 6 digits).'
                         % c.get('name'), 'E_BADREPLY')
    return code


def code_from_daemon(path, slot):
    """(code, slot name) through the daemon at ``path``; NoDaemon when none listens there."""
    if not os.path.exists(path):
        raise NoDaemon('no socket')
    d = DaemonClient(path)
    try:
        args = {} if slot is None else {'name': slot}
        c = _pick(d.request('code', args).get('codes') or [], slot)
        name = c.get('name')
        if c.get('code') is None:  # a touch slot in a "code all" reply: ask for it by name (a press)
            c = _pick(d.request('code', {'name': name}).get('codes') or [], name)
        left = c.get('left')
        if isinstance(left, (int, float)) and left < MIN_LEFT_S and not c.get('touch'):
            time.sleep(left + 0.2)
            c = _pick(d.request('code', {'name': name}).get('codes') or [], name)
        return _valid(c), name
    finally:
        d.close()


def _installed_command():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, '_installed.json')) as f:
            argv = json.load(f).get('hwtotp')
        if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
            if all(os.path.exists(a) for a in argv):
                return argv
    except (OSError, ValueError):
        pass
    return None


def hwtotp_argv(command=None):
    if command:
        return shlex.split(command)
    argv = _installed_command()
    if argv:
        return argv
    found = shutil.which('hwtotp')
    return [found] if found else None


def code_from_cli(slot, socket_path, command=None):
    """(code, slot name) from ``hwtotp code --json``: its prompts (press, errors) go to our stderr."""
    argv = hwtotp_argv(command)
    if not argv:
        raise TokenError('No hwtotp daemon answers at %s and no hwtotp command was found '
                         '(set auth.hwtotp_command, or start `hwtotp daemon`).' % socket_path, 'E_NODEVICE')
    args = ['code'] + ([slot] if slot is not None else []) + ['--json', '--socket', socket_path]
    c = _run_code(argv, args, slot)
    if c.get('code') is None:
        c = _run_code(argv, ['code', c.get('name'), '--json', '--socket', socket_path], c.get('name'))
    return _valid(c), c.get('name')


def _run_code(argv, args, slot):
    try:
        p = subprocess.run(argv + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TokenError('Could not run %s: %s.' % (' '.join(argv), e), 'E_HOST')
    try:
        o = json.loads(p.stdout.decode('utf-8') or 'null')
    except ValueError:
        o = None
    if p.returncode != 0 or not isinstance(o, dict) or 'error' in o:
        err = o.get('error') if isinstance(o, dict) and isinstance(o.get('error'), dict) else {}
        raise _error_of({'e': err.get('code', 'E_HOST'),
                         'm': err.get('message', '`hwtotp code` exited %d' % p.returncode)})
    return _pick(o.get('codes') or [], slot)


def get_code(slot=None, socket_path=None, command=None):
    """A 6-digit code: the daemon when it runs, else ``hwtotp code --json``. Returns (code, slot name)."""
    path = socket_path or default_socket_path()
    try:
        return code_from_daemon(path, slot)
    except NoDaemon:
        return code_from_cli(slot, path, command)
