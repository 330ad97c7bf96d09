"""Field deployment: the incident certificate authority, TLS settings, `fieldkit doctor` and the systemd service."""
