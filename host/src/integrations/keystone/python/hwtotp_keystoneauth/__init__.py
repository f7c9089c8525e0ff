"""hwtotp keystoneauth1 plugin: ``auth_type: hwtotp`` in clouds.yaml.

Password first; when Keystone answers with an auth receipt naming ``totp`` as missing (Identity API v3,
"Multi-Factor Authentication" / auth receipts), one code from the hwtotp daemon (or ``hwtotp code``)
completes the login. Tokens are kept in hwtotp's token cache (shared with ``hwtotp keystone login``).
Installed by ``hwtotp keystone plugin install``; standard library and keystoneauth1 only.
"""

__version__ = "0.1.0"
