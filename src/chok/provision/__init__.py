"""Provisioning: the cluster's CA and certificates, users, ACLs, channels, bundles."""
