"""pvAccess (p4p) behind the protocol-neutral engine: the PVA source and its value decoding."""
