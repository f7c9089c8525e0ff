"""The keystoneauth1 loader of ``auth_type: hwtotp`` (entry point ``keystoneauth1.plugin``: hwtotp).

Options: the v3 password plugin's (auth_url, user_id/username, user_domain_*, password, project/domain
scope) plus hwtotp_slot, hwtotp_socket, hwtotp_token_cache and hwtotp_command. Imports nothing heavy:
the openstack CLI loads it on every run.
"""

from keystoneauth1 import exceptions
from keystoneauth1 import loading


class HwtotpLoader(loading.BaseV3Loader):

    @property
    def plugin_class(self):
        from hwtotp_keystoneauth.plugin import HwtotpAuth
        return HwtotpAuth

    def get_options(self):
        options = super(HwtotpLoader, self).get_options()
        options.extend([
            loading.Opt('user-id', help='User ID'),
            loading.Opt('username', help='Username',
                        deprecated=[loading.Opt('user-name')]),
            loading.Opt('user-domain-id', help="User's domain id"),
            loading.Opt('user-domain-name', help="User's domain name"),
            loading.Opt('password', secret=True, help="User's password"),
            loading.Opt('hwtotp-slot',
                        help='Slot on the token to take the code from '
                             '(default: the only slot)'),
            loading.Opt('hwtotp-socket',
                        help='hwtotp daemon socket (default: $HWTOTP_SOCKET, '
                             'else $XDG_RUNTIME_DIR/hwtotp.sock)'),
            loading.Opt('hwtotp-token-cache',
                        help='token cache file, or "off" (default: '
                             "hwtotp's: $HWTOTP_TOKEN_CACHE, else "
                             '$XDG_RUNTIME_DIR/hwtotp/keystone-tokens.json)'),
            loading.Opt('hwtotp-command',
                        help='hwtotp command for the fallback without a '
                             'daemon (default: the one that installed '
                             'this plugin, else hwtotp on $PATH)'),
        ])
        return options

    def load_from_options(self, **kwargs):
        if kwargs.get('username') and not (kwargs.get('user_domain_name') or
                                           kwargs.get('user_domain_id')):
            raise exceptions.OptionError(
                'You have provided a username. In the V3 identity API a '
                'username is only unique within a domain so you must also '
                'provide either a user_domain_id or user_domain_name.')
        if not (kwargs.get('username') or kwargs.get('user_id')):
            raise exceptions.OptionError(
                'auth_type hwtotp needs auth.username (with '
                'user_domain_name) or auth.user_id.')
        if not kwargs.get('password'):
            raise exceptions.OptionError(
                'auth_type hwtotp needs auth.password (in clouds.yaml or '
                'secure.yaml): the code from the token is the second '
                'factor, not the only one.')
        return super(HwtotpLoader, self).load_from_options(**kwargs)
