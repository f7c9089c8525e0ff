"""HwtotpAuth: Keystone v3 password, then TOTP from the hwtotp token when an auth receipt asks for it.

Flow (Identity API v3, auth receipts): POST /v3/auth/tokens with the password. A user without an MFA rule
gets a token there and the token is never asked. A user whose rule needs totp gets 401 with an
Openstack-Auth-Receipt header (keystoneauth raises MissingAuthMethods); then one code from the token and a
second request with the receipt header and the totp method alone completes the login. Tokens are kept in
hwtotp's token cache until shortly before they expire (cache.py).
"""

import json
import os

from keystoneauth1 import access
from keystoneauth1 import exceptions
from keystoneauth1.identity import v3

from hwtotp_keystoneauth import cache as _cache
from hwtotp_keystoneauth import device as _device

# keystoneauth refreshes a token with less than this left (BaseIdentityPlugin.MIN_TOKEN_LIFE_SECONDS);
# a cached token is served only with more than that left, so one openstack command never refreshes twice.
MIN_CACHED_LEFT_MS = 130000.0


class HwtotpAuth(v3.BaseAuth):

    def __init__(self, auth_url, password=None, user_id=None, username=None, user_domain_id=None,
                 user_domain_name=None, hwtotp_slot=None, hwtotp_socket=None, hwtotp_token_cache=None,
                 hwtotp_command=None, unscoped=False, **kwargs):
        super(HwtotpAuth, self).__init__(auth_url=auth_url, **kwargs)
        self.password = password
        self.user_id = user_id
        self.username = username
        self.user_domain_id = user_domain_id
        self.user_domain_name = user_domain_name
        self.hwtotp_slot = hwtotp_slot or None
        self.hwtotp_socket = hwtotp_socket or None
        self.hwtotp_token_cache = hwtotp_token_cache
        self.hwtotp_command = hwtotp_command
        self.unscoped = unscoped
        self._cached_token = None  # the token this process took from the cache
        self._skip_cache = False
        # For tests and the bench: how many codes this process asked the token for.
        self.codes_used = 0

    # --- the two requests ------------------------------------------------------------------------

    def _user(self):
        return dict(user_id=self.user_id, username=self.username,
                    user_domain_id=self.user_domain_id, user_domain_name=self.user_domain_name)

    def _auth(self, methods):
        return v3.Auth(self.auth_url, methods, trust_id=self.trust_id, system_scope=self.system_scope,
                       domain_id=self.domain_id, domain_name=self.domain_name, project_id=self.project_id,
                       project_name=self.project_name, project_domain_id=self.project_domain_id,
                       project_domain_name=self.project_domain_name, include_catalog=self.include_catalog,
                       unscoped=self.unscoped)

    def _who(self):
        return self.username or self.user_id

    def _login(self, session):
        password = v3.PasswordMethod(password=self.password, **self._user())
        try:
            return self._auth([password]).get_auth_ref(session)
        except exceptions.MissingAuthMethods as e:
            rules = e.required_auth_methods or []
            if not any('totp' in r for r in rules if isinstance(r, list)):
                raise
            receipt = e.receipt
        try:
            code, slot = _device.get_code(self.hwtotp_slot, self.hwtotp_socket, self.hwtotp_command)
        except _device.TokenError as t:
            raise exceptions.AuthorizationFailure(
                'Keystone wants a TOTP code for %s, and %s' % (self._who(), _lower_first(str(t))))
        self.codes_used += 1
        totp = v3.TOTPMethod(passcode=code, **self._user())
        try:
            return self._auth([v3.ReceiptMethod(receipt=receipt), totp]).get_auth_ref(session)
        except exceptions.MissingAuthMethods as e:
            raise exceptions.AuthorizationFailure(
                'Keystone accepted the password and the code from slot %r, but %s still needs %s.'
                % (slot, self._who(), e.required_auth_methods))
        except exceptions.Unauthorized as e:
            raise exceptions.Unauthorized(
                message='Keystone refused the code from the token\'s slot %r for %s: is the token\'s '
                        'clock right and not ahead (`hwtotp time sync`), and is this the slot enrolled '
                        'for this user?' % (slot, self._who()),
                http_status=401, response=getattr(e, 'response', None))

    # --- the cache -------------------------------------------------------------------------------

    def _cache(self):
        # auth.hwtotp_token_cache, else $HWTOTP_TOKEN_CACHE, else hwtotp's default file; "off" in either: none.
        path = self.hwtotp_token_cache or _cache.cache_file()
        if str(path).strip().lower() in ('off', 'none', 'false', 'no', '0'):
            return None
        return _cache.TokenCache(path)

    def _key(self):
        return _cache.cache_key(self.auth_url, self.user_id, self.username, self.user_domain_id,
                                self.user_domain_name, self.project_id, self.project_name,
                                self.project_domain_id, self.project_domain_name)

    def _from_entry(self, session, tc, key, entry, locked=False):
        """An AccessInfo for a usable cached entry, or None. Entries without state are completed under the lock."""
        if self._skip_cache or not entry or not _cache.usable(entry, MIN_CACHED_LEFT_MS):
            return None
        if entry.get('authUrl', '').rstrip('/') != self.auth_url.rstrip('/'):
            return None
        token = entry.get('token')
        state = entry.get('authState')
        body = state.get('body') if isinstance(state, dict) else None
        if not isinstance(body, dict):
            if not locked:
                return None
            # A token from `hwtotp keystone login` (no catalog): Keystone validates it and returns its body.
            body = self._validate(session, token)
            if body is None:
                tc.drop(key, token)
                return None
            entry = dict(entry, authState={'body': body})
            tc.put(key, entry)
        ref = access.create(body=body, auth_token=token)
        if ref.user_id != entry.get('userId'):
            return None
        self._cached_token = token
        return ref

    def _validate(self, session, token):
        url = self.token_url if self.auth_url.rstrip('/').endswith('v3') else \
            '%s/v3/auth/tokens' % self.auth_url.rstrip('/')
        try:
            resp = session.get(url, headers={'X-Auth-Token': token, 'X-Subject-Token': token,
                                             'Accept': 'application/json'},
                               authenticated=False, log=False, raise_exc=False)
        except exceptions.ConnectionError:
            raise
        if resp.status_code != 200:
            return None
        try:
            body = resp.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) and 'token' in body else None

    @staticmethod
    def _entry(ref):
        t = ref._data['token']
        e = {'token': ref.auth_token, 'expiresAt': _ms(t.get('expires_at')), 'issuedAt': _ms(t.get('issued_at')),
             'authUrl': None, 'userId': ref.user_id, 'authState': {'body': ref._data}}
        if ref.project_id:
            e['projectId'] = ref.project_id
            e['projectName'] = ref.project_name
            if ref.project_domain_id:
                e['projectDomainId'] = ref.project_domain_id
        return e

    def get_auth_ref(self, session, **kwargs):
        tc = self._cache()
        if tc is None:
            return self._login(session)
        key = self._key()
        ref = self._from_entry(session, tc, key, tc.get(key))
        if ref is not None:
            return ref
        with tc.lock():
            ref = self._from_entry(session, tc, key, tc.get(key), locked=True)  # another may have logged in
            if ref is not None:
                return ref
            ref = self._login(session)
            entry = self._entry(ref)
            entry['authUrl'] = self.auth_url
            if entry['expiresAt'] is not None and entry['issuedAt'] is not None:
                tc.put(key, entry)
            return ref

    def invalidate(self):
        # A 401 on a cached token (revoked, or the server's keys rotated): drop it, and log in again.
        if self._cached_token is not None:
            tc = self._cache()
            if tc is not None:
                try:
                    with tc.lock():
                        tc.drop(self._key(), self._cached_token)
                except OSError:
                    pass
            self._cached_token = None
        self._skip_cache = True
        return super(HwtotpAuth, self).invalidate()

    def get_cache_id_elements(self):
        return None  # keystoneauth's own cache would key on the password; hwtotp's cache is used instead


def _lower_first(s):
    return s[:1].lower() + s[1:] if s else s


def _ms(iso):
    if not isinstance(iso, str):
        return None
    from keystoneauth1 import _utils
    dt = _utils.parse_isotime(iso)
    return int(round(dt.timestamp() * 1000))
