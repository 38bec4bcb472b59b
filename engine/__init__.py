"""hotline: a telephony-first customer-service hotline engine on a real Asterisk."""
